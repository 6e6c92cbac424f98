import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ABSTAIN,
  ChainBuilder,
  Dio,
  type Indexer,
  type PrimaryKey,
  ValidationError,
  anonymousSession,
  authorLinter,
  deny,
  generateSymmetricKey,
  role,
} from '../../../src/core/index.js';

test('a custom validator denies, and Deny wins over the built-in Allow', async () => {
  const chain = await new ChainBuilder()
    .addValidator({ name: 'no-secrets', validate: (e) => (e.meta.type === 'secret' ? deny('secrets are not allowed here') : ABSTAIN) })
    .open('validators');
  const dio = new Dio(chain, anonymousSession());
  dio.store({ a: 1 }, { type: 'secret' });
  await assert.rejects(dio.commit(), (err: unknown) => err instanceof ValidationError && /secrets are not allowed/.test(err.message));
  assert.equal(chain.view.objects.size, 0, 'nothing of the refused transaction is applied');
  dio.cancel();
  const ok = new Dio(chain, anonymousSession());
  ok.store({ a: 1 }, { type: 'public' });
  await ok.commit();
  assert.equal(chain.view.objects.size, 1);
  await chain.close();
});

test('with only abstaining validators nothing is allowed', async () => {
  const chain = await new ChainBuilder().withoutDefaults().addValidator({ name: 'shrug', validate: () => ABSTAIN }).open('abstain');
  const dio = new Dio(chain, anonymousSession());
  dio.store({});
  await assert.rejects(dio.commit(), /no validator allowed/);
  await chain.close();
});

test('linters stamp the author; indexers see every event; transformers run before encryption', async () => {
  const byType = new Map<string, PrimaryKey[]>();
  const typeIndex: Indexer = {
    name: 'by-type',
    feed: (e) => {
      if (e.meta.type && e.meta.key) byType.set(e.meta.type, [...(byType.get(e.meta.type) ?? []), e.meta.key]);
    },
    reset: () => byType.clear(),
  };
  const chain = await new ChainBuilder().configuredFor('smallest-size').addLinter(authorLinter).addIndexer(typeIndex).open('plugins');
  const key = generateSymmetricKey();
  const session = { user: role('owner', { identity: 'alice@example.com', readKeys: [key] }), groups: [] };
  const dio = new Dio(chain, session);
  const text = 'compressible '.repeat(200);
  const dao = dio.store({ text }, { type: 'note', readers: [{ kind: 'symmetric', key }] });
  await dio.commit();
  assert.deepEqual(byType.get('note'), [dao.key]);
  const stored = await chain.readEvent(chain.view.objects.get(dao.key)!.latest);
  assert.equal(stored.meta.author, 'alice@example.com');
  assert.ok(stored.data!.length < text.length / 4, `deflate ran before encryption (${stored.data!.length} bytes stored)`);
  assert.equal((await new Dio(chain, session).load<{ text: string }>(dao.key)).value.text, text);
  await chain.close();
});

test('the timeline orders events by timestamp', async () => {
  const chain = await new ChainBuilder().open('timeline');
  for (let i = 0; i < 5; i++) {
    const dio = new Dio(chain, anonymousSession());
    dio.store({ i });
    await dio.commit();
  }
  const times = chain.view.timeline().map((o) => chain.view.timeOf(o));
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  const events = await Promise.all(chain.view.timeline().map((o) => chain.readEvent(o)));
  assert.deepEqual(events.map((e) => e.meta.timestamp), times);
  await chain.close();
});
