// Concurrent writers (docs/FORMAT.md "Concurrent writers"): replicas that receive the same events
// in different orders end in the same state, also after reopening.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Chain, ChainBuilder, Dio, type PrimaryKey, publicSignKey } from '../../../src/core/index.js';
import { history, owner, ownerSession, tempDir } from './fixtures.js';

async function replica(logPath: string): Promise<{ chain: Chain; builder: ChainBuilder }> {
  const builder = new ChainBuilder({ logPath, signIntervalMs: 0 }).addRootPublicKey(publicSignKey(owner));
  return { chain: await builder.open('shared'), builder };
}

/** The events a chain gained since it held `from` of them. */
async function since(chain: Chain, from: number): Promise<Uint8Array[]> {
  await chain.sync();
  return (await history(chain)).slice(from);
}

async function valueOf(chain: Chain, key: PrimaryKey): Promise<unknown> {
  const dio = new Dio(chain, ownerSession);
  return dio.exists(key) ? (await dio.load(key)).value : 'deleted';
}

async function write(chain: Chain, key: PrimaryKey, value: unknown): Promise<void> {
  const dio = new Dio(chain, ownerSession);
  if (value === 'deleted') dio.delete(key);
  else {
    const dao = await dio.load(key);
    dao.value = value;
    dao.commit();
  }
  await dio.commit();
}

function ingestAll(chain: Chain, events: readonly Uint8Array[]): void {
  const result = chain.ingest(events, { origin: 'remote', skipKnown: true });
  assert.deepEqual(result.errors, []);
  assert.equal(result.parked, 0);
}

test('replicas that see concurrent writes in different orders converge, and a later write wins everywhere', async () => {
  const paths = await Promise.all([0, 1, 2, 3].map(() => tempDir()));
  const [a, b, c, d] = await Promise.all(paths.map(replica));
  const chains = [a!.chain, b!.chain, c!.chain, d!.chain];
  const seed = new Dio(a!.chain, ownerSession);
  const x = seed.store({ v: 'start' }).key;
  const y = seed.store({ v: 'start' }).key;
  await seed.commit();
  const start = await since(a!.chain, 0);
  for (const r of chains.slice(1)) ingestAll(r, start);

  // A and B change both objects without seeing each other; B also deletes y.
  const base = a!.chain.count;
  await write(a!.chain, x, { v: 'from a' });
  await write(a!.chain, y, { v: 'from a' });
  await write(b!.chain, x, { v: 'from b' });
  await write(b!.chain, y, 'deleted');
  const fromA = await since(a!.chain, base);
  const fromB = await since(b!.chain, base);
  ingestAll(a!.chain, fromB);
  ingestAll(b!.chain, fromA);
  ingestAll(c!.chain, [...fromA, ...fromB]);
  ingestAll(d!.chain, [...fromB, ...fromA]);
  // Uploads repeat: held events are skipped, not refused.
  assert.equal(d!.chain.ingest(fromA, { origin: 'remote', skipKnown: true }).known, fromA.length);

  const states = await Promise.all(chains.map(async (ch) => [await valueOf(ch, x), await valueOf(ch, y)]));
  for (const s of states.slice(1)) assert.deepEqual(s, states[0], 'every replica holds the same versions');
  assert.ok(states.flat().some((v) => v !== 'deleted' && (v as { v: string }).v !== 'start'));
  assert.ok(chains.some((ch) => ch.view.superseded > 0), 'some replica received an older version after a newer one');

  // A write made after seeing the others wins on every replica, whatever their clocks.
  const before = c!.chain.count;
  await write(c!.chain, x, { v: 'after' });
  const later = await since(c!.chain, before);
  for (const r of [a!, b!, d!]) ingestAll(r.chain, later);
  for (const ch of chains) assert.deepEqual(await valueOf(ch, x), { v: 'after' });

  // Reopening replays the log in its own order and keeps the same state.
  await d!.builder.close();
  const reopened = await replica(paths[3]!);
  assert.deepEqual([await valueOf(reopened.chain, x), await valueOf(reopened.chain, y)], [{ v: 'after' }, states[0]![1]]);
  await reopened.builder.close();
  for (const r of [a!, b!, c!]) await r.builder.close();
});
