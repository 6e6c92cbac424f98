import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  Bus,
  ChainBuilder,
  ClosedError,
  Dio,
  LockError,
  TimeoutError,
  ServiceError,
  addService,
  anonymousSession,
  daoRef,
  daoVec,
  foreignRef,
  invoke,
  loadForeign,
  loadRef,
  pushTo,
} from '../../../src/core/index.js';

const session = anonymousSession();

test('a committed or cancelled transaction refuses more work', async () => {
  const chain = await new ChainBuilder().open('done');
  const dio = new Dio(chain, session);
  dio.store({ a: 1 });
  await dio.commit();
  assert.throws(() => dio.store({ a: 2 }), ClosedError);
  const other = new Dio(chain, session);
  other.cancel();
  await assert.rejects(other.commit(), ClosedError);
  await chain.close();
});

test('a pessimistic lock keeps other transactions from deleting an object', async () => {
  const chain = await new ChainBuilder().open('locks');
  const setup = new Dio(chain, session);
  const dao = setup.store({ job: 1 });
  await setup.commit();
  const a = new Dio(chain, session);
  const b = new Dio(chain, session);
  assert.equal(a.tryLock(dao.key), true);
  assert.equal(b.tryLock(dao.key), false);
  assert.equal(b.tryLockThenDelete(dao.key), false);
  b.delete(dao.key);
  await assert.rejects(b.commit(), LockError);
  b.cancel();
  a.cancel();
  const c = new Dio(chain, session);
  assert.equal(c.tryLockThenDelete(dao.key), true);
  await c.commit();
  assert.equal(new Dio(chain, session).exists(dao.key), false);
  await chain.close();
});

test('DaoRef and DaoRefForeign load objects in this and in another chain', async () => {
  const builder = new ChainBuilder();
  const here = await builder.open('here');
  const there = await builder.open('there');
  const d1 = new Dio(there, session);
  const target = d1.store({ name: 'far away' });
  await d1.commit();
  const d2 = new Dio(here, session);
  const near = d2.store({ name: 'near' });
  const holder = d2.store({ near: daoRef(near.key), far: foreignRef(there.key, target.key) });
  await d2.commit();

  const d3 = new Dio(here, session);
  const loaded = await d3.load<{ near: ReturnType<typeof daoRef>; far: ReturnType<typeof foreignRef> }>(holder.key);
  assert.equal((await loadRef<{ name: string }>(d3, loaded.value.near))?.value.name, 'near');
  assert.equal((await loadForeign<{ name: string }>(builder, session, loaded.value.far)).value.name, 'far away');
  await builder.close();
});

test('the bus broadcasts to every listener and process() takes each item exactly once', async () => {
  const chain = await new ChainBuilder().open('bus');
  const setup = new Dio(chain, session);
  const queue = setup.store({ name: 'queue' });
  await setup.commit();
  const vec = daoVec(queue.key, 1 as never);
  const listeners = [new Bus<{ n: number }>(chain, session, vec), new Bus<{ n: number }>(chain, session, vec)];
  const workers = [new Bus<{ n: number }>(chain, session, vec), new Bus<{ n: number }>(chain, session, vec)];

  const producer = new Dio(chain, session);
  for (let n = 0; n < 10; n++) pushTo(producer, vec, { n });
  await producer.commit();

  for (const l of listeners) {
    const seen = [];
    for (let i = 0; i < 10; i++) seen.push((await l.recv()).value.n);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }
  const taken: number[] = [];
  await Promise.all(
    workers.map(async (w) => {
      for (let i = 0; i < 5; i++) await w.process((v) => taken.push(v.n));
    }),
  );
  assert.deepEqual(taken.sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(chain.view.childrenOf(vec.parent, vec.collection).size, 0);
  for (const b of [...listeners, ...workers]) b.close();
  await chain.close();
});

test('children list in creation order, and a queue is taken first in, first out', async () => {
  const chain = await new ChainBuilder().open('order');
  const setup = new Dio(chain, session);
  const vec = daoVec(setup.store({ name: 'list' }).key, 1 as never);
  await setup.commit();
  const push = async (from: number, to: number): Promise<void> => {
    for (let n = from; n < to; n++) {
      const dio = new Dio(chain, session);
      pushTo(dio, vec, { n });
      await dio.commit();
    }
  };
  await push(0, 40);
  const gone = new Dio(chain, session);
  for (const dao of (await gone.children<{ n: number }>(vec.parent, vec.collection)).filter((d) => d.value.n % 3 === 0)) gone.delete(dao.key);
  await gone.commit();
  await push(40, 50);
  const listed = (await new Dio(chain, session).children<{ n: number }>(vec.parent, vec.collection)).map((d) => d.value.n);
  const expected = Array.from({ length: 50 }, (_, n) => n).filter((n) => n >= 40 || n % 3 !== 0);
  assert.deepEqual(listed, expected);
  const worker = new Bus<{ n: number }>(chain, session, vec);
  const taken: number[] = [];
  for (let i = 0; i < 5; i++) await worker.process((v) => taken.push(v.n));
  assert.deepEqual(taken, expected.slice(0, 5));
  worker.close();
  await chain.close();
});

test('services answer invocations, report failures and time out', async () => {
  const chain = await new ChainBuilder().open('services');
  const stop = addService<{ a: number; b: number }, number>(chain, session, 'add', (req) => {
    if (req.a < 0) throw new Error('negative numbers are not supported');
    return req.a + req.b;
  });
  assert.equal(await invoke<{ a: number; b: number }, number>(chain, session, 'add', { a: 2, b: 3 }), 5);
  await assert.rejects(invoke(chain, session, 'add', { a: -1, b: 3 }), ServiceError);
  stop();
  await assert.rejects(invoke(chain, session, 'add', { a: 1, b: 1 }, { timeoutMs: 100 }), TimeoutError);
  await chain.close();
});

test('children staged in the same transaction are listed', async () => {
  const chain = await new ChainBuilder().open('staged');
  const dio = new Dio(chain, session);
  const parent = dio.store({});
  const vec = daoVec(parent.key, 3 as never);
  pushTo(dio, vec, { n: 1 });
  assert.equal((await dio.children(vec.parent, vec.collection)).length, 1);
  await dio.commit();
  await chain.close();
});

test('examples/quick-start prints Hello world!', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [new URL('../../../examples/quick-start/main.js', import.meta.url).pathname]);
  assert.equal(stdout.trim(), 'Hello world!');
});

test('raw bytes round-trip through serialize at every length class', async () => {
  const { serialize, deserialize } = await import('../../../src/core/index.js');
  const { pack } = await import('msgpackr');
  for (const n of [0, 1, 255, 256, 65535, 65536, 200_000]) {
    const bytes = Buffer.alloc(n, n & 0xff);
    assert.deepEqual(Buffer.from(serialize(bytes)), pack(bytes), `msgpack bin of ${n} bytes`);
    assert.deepEqual(Buffer.from(deserialize<Uint8Array>(serialize(bytes))), bytes);
  }
});
