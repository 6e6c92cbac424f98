import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ABSTAIN,
  ChainBuilder,
  type Chain,
  type ChainConfig,
  type CompactionStats,
  Dio,
  type PrimaryKey,
  type Validator,
  anonymousSession,
  compactChain,
  daoVec,
  decodeEvent,
  deny,
  publicSignKey,
  pushTo,
  userSession,
} from '../../../src/core/index.js';
import { tally } from '../../../src/core/chain/compaction/voting.js';
import { history, owner, ownerSession, stranger, strangerSession, tempDir } from './fixtures.js';

const PAD = 'x'.repeat(1000);

/** Root key `owner`; a sync tolerance of 0 so that nothing is kept for being recent. */
function builder(config: Partial<ChainConfig> = {}): ChainBuilder {
  return new ChainBuilder({ syncToleranceMs: 0, ...config }).addRootPublicKey(publicSignKey(owner)).setSession(ownerSession);
}

/** How many stored events store or delete `key`. */
async function eventsOf(chain: Chain, key: PrimaryKey): Promise<{ versions: number; tombstones: number }> {
  let versions = 0;
  let tombstones = 0;
  for (const bytes of await history(chain)) {
    const { meta } = decodeEvent(bytes);
    if (meta.key === key) versions++;
    if (meta.tombstone === key) tombstones++;
  }
  return { versions, tombstones };
}

async function update<T>(chain: Chain, session: ReturnType<typeof userSession>, key: PrimaryKey, value: T): Promise<void> {
  const dio = new Dio(chain, session);
  const dao = await dio.load<T>(key);
  dao.value = value;
  dao.commit();
  await dio.commit();
}

async function load<T>(chain: Chain, key: PrimaryKey): Promise<T> {
  return (await new Dio(chain, anonymousSession()).load<T>(key)).value;
}

/** The value, or the code of the error loading it fails with (orphans of a deleted parent cannot be read). */
async function outcome(chain: Chain, key: PrimaryKey): Promise<unknown> {
  try {
    return await load(chain, key);
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

function describe(s: CompactionStats): string {
  return `${s.before} -> ${s.after} events (${s.dropped} dropped, ${s.refused} refused), ${s.bytesBefore} -> ${s.bytesAfter} bytes, ${s.ms.toFixed(1)} ms`;
}

/** Every live object of `chain` must be applied at a fresh peer that verifies every signature. */
async function assertPeerVerifies(chain: Chain): Promise<void> {
  await chain.sync();
  const peer = await new ChainBuilder().addRootPublicKey(publicSignKey(owner)).open(chain.key);
  const events = await history(chain);
  const result = peer.ingest(events, { origin: 'remote' });
  assert.deepEqual(result, { applied: events.length, parked: 0, parkedIds: [], known: 0, errors: [] });
  assert.deepEqual([...peer.view.objects.keys()].sort(), [...chain.view.objects.keys()].sort());
  for (const key of chain.view.objects.keys()) assert.deepEqual(await outcome(peer, key), await outcome(chain, key));
  await peer.close();
}

test('votes: force-keep beats force-drop beats keep beats drop; an event nobody judges is kept', () => {
  assert.equal(tally(['force-drop', 'force-keep', 'drop']), true);
  assert.equal(tally(['keep', 'force-drop']), false);
  assert.equal(tally(['drop', 'keep', 'abstain']), true);
  assert.equal(tally(['drop', 'abstain']), false);
  assert.equal(tally(['abstain', 'abstain']), true);
  assert.equal(tally([]), true);
});

test('duplicates collapse to the latest version, also after reopening', async (t) => {
  const logPath = await tempDir();
  const b1 = builder({ logPath });
  const chain = await b1.open('dups');
  const dio = new Dio(chain, ownerSession);
  const a = dio.store({ v: 0, pad: PAD });
  const b = dio.store({ v: 0 });
  await dio.commit();
  for (let v = 1; v <= 30; v++) await update(chain, ownerSession, a.key, { v, pad: PAD });
  await chain.sync();
  const count = chain.count;

  const stats = await chain.compact();
  t.diagnostic(describe(stats));
  assert.equal(stats.before, count);
  assert.equal(stats.refused, 0);
  assert.equal(stats.before, stats.after + stats.dropped + stats.refused);
  assert.ok(stats.bytesAfter < stats.bytesBefore / 5, describe(stats));
  assert.equal(chain.count, stats.after);
  assert.deepEqual(await eventsOf(chain, a.key), { versions: 1, tombstones: 0 });
  assert.equal((await load<{ v: number }>(chain, a.key)).v, 30);
  assert.equal((await load<{ v: number }>(chain, b.key)).v, 0);
  await assertPeerVerifies(chain);

  // Writing after a compaction lands behind the compacted history.
  await update(chain, ownerSession, b.key, { v: 1 });
  await b1.close();

  const b2 = builder({ logPath });
  const again = await b2.open('dups');
  assert.equal(again.count, stats.after + 2, 'the compacted events, one update and its proof');
  assert.equal(again.view.objects.size, 2);
  assert.equal((await load<{ v: number }>(again, a.key)).v, 30);
  assert.equal((await load<{ v: number }>(again, b.key)).v, 1);
  await b2.close();
});

test('tombstoned objects disappear with their history; objects written after a tombstone survive', async () => {
  const b = builder();
  const chain = await b.open('tombstones');
  const dio = new Dio(chain, ownerSession);
  const gone = dio.store({ v: 0 });
  const phoenix = dio.store({ life: 1 });
  const bystander = dio.store({ v: 'here' });
  await dio.commit();
  for (let v = 1; v < 5; v++) await update(chain, ownerSession, gone.key, { v });
  for (const key of [gone.key, phoenix.key]) {
    const del = new Dio(chain, ownerSession);
    del.delete(key);
    await del.commit();
  }
  const reborn = new Dio(chain, ownerSession);
  reborn.store({ life: 2 }, { key: phoenix.key });
  await reborn.commit();
  await update(chain, ownerSession, phoenix.key, { life: 2, updated: true });

  await chain.compact();
  assert.deepEqual(await eventsOf(chain, gone.key), { versions: 0, tombstones: 0 });
  assert.deepEqual(await eventsOf(chain, phoenix.key), { versions: 1, tombstones: 0 });
  assert.equal(new Dio(chain, ownerSession).exists(gone.key), false);
  assert.deepEqual(await load(chain, phoenix.key), { life: 2, updated: true });
  assert.deepEqual(await load(chain, bystander.key), { v: 'here' });
  await assertPeerVerifies(chain);
  await b.close();
});

test('signatures verify at a fresh peer after compaction: delegated writers, children, orphans', async () => {
  const b = builder({ signIntervalMs: 0 });
  const chain = await b.open('trust');
  // Each commit gets its own proof: a fresh peer releases the events of one proof signer by
  // signer rather than in log order, which fails when both keys sign one proof, compacted or not.
  const commit = async (dio: Dio): Promise<void> => {
    await dio.commit();
    await chain.sync();
  };
  const change = async <T>(session: ReturnType<typeof userSession>, key: PrimaryKey, value: T): Promise<void> => {
    await update(chain, session, key, value);
    await chain.sync();
  };
  const dio = new Dio(chain, ownerSession);
  const root = dio.store({ name: 'root' });
  // A subtree whose writer is the stranger: its later versions are judged by its first one.
  const shared = dio.store({ name: 'shared', v: 0 }, { writers: [publicSignKey(stranger)] });
  const folder = dio.store({ name: 'folder' });
  const strangers = dio.store({ name: 'the stranger writes here' }, { writers: [publicSignKey(stranger)] });
  const owners = dio.store({ name: 'the owner writes here' });
  const files = daoVec(folder.key, 1 as never);
  const orphans = [pushTo(dio, files, { name: 'a' }), pushTo(dio, files, { name: 'b' })];
  await commit(dio);
  for (let v = 1; v <= 3; v++) await change(strangerSession, shared.key, { name: 'shared', v });
  const inside = new Dio(chain, strangerSession);
  const child = pushTo(inside, daoVec(shared.key, 2 as never), { name: 'child' });
  await commit(inside);
  await change(strangerSession, child.key, { name: 'child', v: 2 });
  // Made and changed under the stranger's folder, then moved (by the stranger, whose object it
  // is) under the owner's: the move is judged by its old parent, the later versions by the new.
  const maker = new Dio(chain, strangerSession);
  const moved = pushTo(maker, daoVec(strangers.key, 3 as never), { v: 0 });
  await commit(maker);
  await change(strangerSession, moved.key, { v: 1 });
  const mover = new Dio(chain, strangerSession);
  (await mover.load(moved.key)).attach(owners.key, 4 as never).commit();
  await commit(mover);
  await change(ownerSession, moved.key, { v: 2 });
  await change(ownerSession, root.key, { name: 'root', v: 2 });
  for (let v = 1; v <= 3; v++) await change(ownerSession, folder.key, { name: 'folder', v });
  // Deleting the folder does not delete its files: they stay live, so what they need must stay.
  const del = new Dio(chain, ownerSession);
  del.delete(folder.key);
  await commit(del);
  const live = [...chain.view.objects.keys()].sort();
  const orphanOutcome = await outcome(chain, orphans[0]!.key);

  const stats = await chain.compact();
  assert.equal(stats.refused, 0);
  assert.ok(stats.dropped > 0);
  assert.deepEqual([...chain.view.objects.keys()].sort(), live);
  assert.deepEqual(await load(chain, shared.key), { name: 'shared', v: 3 });
  assert.deepEqual(await load(chain, child.key), { name: 'child', v: 2 });
  assert.deepEqual(await load(chain, moved.key), { v: 2 });
  assert.deepEqual(await eventsOf(chain, moved.key), { versions: 3, tombstones: 0 }, 'the last version before the move, the move, the newest');
  assert.deepEqual([...chain.view.childrenOf(folder.key, files.collection)].sort(), orphans.map((o) => o.key).sort());
  assert.deepEqual(await outcome(chain, orphans[0]!.key), orphanOutcome, 'an orphan reads as it did before');
  await assertPeerVerifies(chain);

  // The stranger's key was published once; it stays published for later writes too.
  await change(strangerSession, shared.key, { name: 'shared', v: 4 });
  await chain.compact();
  await assertPeerVerifies(chain);
  await b.close();
});

/** A small seeded generator, so that a failing history can be replayed. */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** What a reader sees of every live object: value (or why it cannot be read), place and writers. */
async function snapshot(chain: Chain): Promise<Map<PrimaryKey, unknown>> {
  const out = new Map<PrimaryKey, unknown>();
  for (const [key, state] of chain.view.objects) {
    out.set(key, { value: await outcome(chain, key), parent: state.parent, write: state.auth?.write });
  }
  return out;
}

test('random histories keep every live object as it was, verifiable by a peer', async (t) => {
  const both = userSession({ writeKeys: [owner, stranger] });
  // 58: a child written while its grandparent lived a later life than the one its parent was made
  // in; 104: an orphan written while its deleted parent lived again.
  for (const seed of [1, 2, 3, 4, 5, 6, 58, 104]) {
    const pick = random(seed);
    // Even seeds let many commits share one proof (signed by both keys); odd ones give each its own.
    const grouped = seed % 2 === 0;
    const b = builder(grouped ? {} : { signIntervalMs: 0 });
    const chain = await b.open(`random-${seed}`);
    const deleted: PrimaryKey[] = [];
    let failed = 0;
    for (let n = 0; n < 60; n++) {
      const live = [...chain.view.objects.keys()];
      const any = (): PrimaryKey => live[pick(live.length)]!;
      const dio = new Dio(chain, both);
      try {
        const op = live.length === 0 ? 0 : pick(7);
        if (op === 0) dio.store({ n }, pick(3) === 0 ? { writers: [publicSignKey(stranger)] } : {});
        else if (op === 1) pushTo(dio, daoVec(any(), 1 as never), { n });
        else if (op === 2 || op === 3) {
          const dao = await dio.load<unknown>(any());
          dao.value = { n };
          dao.commit();
        } else if (op === 4) {
          const key = any();
          dio.delete(key);
          deleted.push(key);
        } else if (op === 5 && deleted.length > 0) dio.store({ n, again: true }, { key: deleted[pick(deleted.length)]! });
        else {
          const dao = await dio.load<unknown>(any());
          if (pick(2) === 0) dao.attach(any(), 2 as never);
          else dao.setWriters(([[publicSignKey(stranger)], 'inherit', [publicSignKey(owner)]] as const)[pick(3)]!);
          dao.commit();
        }
        await dio.commit();
        if (!grouped) await chain.sync();
      } catch {
        // Refused (no write authority, a cycle, an unreadable object): the history goes on without it.
        failed++;
        dio.cancel();
      }
    }
    await chain.sync();
    const before = await snapshot(chain);
    const stats = await chain.compact();
    t.diagnostic(`seed ${seed}${grouped ? ' (grouped proofs)' : ''}: ${failed} refused operations; ${describe(stats)}`);
    assert.equal(stats.refused, 0, `seed ${seed}`);
    assert.deepEqual(await snapshot(chain), before, `seed ${seed}`);
    await assertPeerVerifies(chain);
    await b.close();
  }
});

test('the cut-off keeps recent events and only ever moves forward', async () => {
  const b = builder({ syncToleranceMs: 60_000 });
  const chain = await b.open('recent');
  const dio = new Dio(chain, ownerSession);
  const a = dio.store({ v: 0 });
  await dio.commit();
  for (let v = 1; v <= 5; v++) await update(chain, ownerSession, a.key, { v });
  await chain.sync();

  const recent = await chain.compact();
  assert.equal(recent.dropped, 0, 'every event is younger than the sync tolerance');
  assert.equal((await eventsOf(chain, a.key)).versions, 6);
  assert.ok(chain.cutOff > 0 && chain.cutOff <= Date.now() - 60_000);

  // Two minutes later the old versions are past the tolerance.
  const later = await compactChain(chain, chain.compactors, Date.now() + 120_000);
  assert.equal((await eventsOf(chain, a.key)).versions, 1);
  // Whole milliseconds: versions of one object within a millisecond are stamped a fraction apart.
  assert.equal(later.cutOff, Math.floor(chain.view.timeOf(chain.view.objects.get(a.key)!.latest)) + 1, 'no later than just past the history');
  const cutOff = chain.cutOff;
  await chain.compact();
  assert.equal(chain.cutOff, cutOff, 'a later compaction with an earlier "now" keeps the cut-off');
  assert.deepEqual(await load(chain, a.key), { v: 5 });
  await b.close();
});

test('events the validators refuse when the kept history is replayed are dropped', async () => {
  let doomed = false;
  const picky: Validator = {
    name: 'picky',
    validate: (e) => (doomed && e.meta.type === 'doomed' ? deny('doomed types are no longer accepted') : ABSTAIN),
  };
  const b = builder().addValidator(picky);
  const chain = await b.open('refused');
  const dio = new Dio(chain, ownerSession);
  const bad = dio.store({ v: 'bad' }, { type: 'doomed' });
  const good = dio.store({ v: 'good' });
  await dio.commit();
  await chain.sync();

  doomed = true;
  const stats = await chain.compact();
  assert.equal(stats.refused, 1);
  assert.equal(chain.view.objects.has(bad.key), false);
  assert.deepEqual(await load(chain, good.key), { v: 'good' });
  await b.close();
});

test('raw chains have no compactors: compaction keeps everything', async () => {
  const chain = await new ChainBuilder({ syncToleranceMs: 0 }).configuredFor('raw').open('raw');
  const dio = new Dio(chain, anonymousSession());
  const a = dio.store({ v: 0 });
  await dio.commit();
  await update(chain, anonymousSession(), a.key, { v: 1 });
  const stats = await chain.compact();
  assert.equal(stats.dropped, 0);
  assert.equal(stats.after, 2);
  await chain.close();
});

test('compactions never overlap, and compacting a closed chain is refused', async () => {
  const b = builder();
  const chain = await b.open('serial');
  const dio = new Dio(chain, ownerSession);
  const a = dio.store({ v: 0 });
  await dio.commit();
  for (let v = 1; v <= 5; v++) await update(chain, ownerSession, a.key, { v });
  const [first, second] = await Promise.all([chain.compact(), chain.compact()]);
  assert.ok(first.dropped > 0);
  assert.equal(second.dropped, 0, 'the second ran on the compacted log');
  await b.close();
  assert.throws(() => chain.compact(), /closed/);
});

test('writes made while a compaction runs survive it', async (t) => {
  const logPath = await tempDir();
  const b1 = builder({ logPath });
  const chain = await b1.open('busy');
  const dio = new Dio(chain, ownerSession);
  const a = dio.store({ v: 0, pad: PAD });
  // Anyone may add to this folder, so the writes below need no signature and never wait for one.
  const open = daoVec(dio.store({ name: 'open' }, { writers: 'everyone' }).key, 1 as never);
  await dio.commit();
  for (let v = 1; v <= 50; v++) await update(chain, ownerSession, a.key, { v, pad: PAD });
  await chain.sync();

  const written: PrimaryKey[] = [];
  let done = false;
  const compaction = chain.compact().finally(() => (done = true));
  while (!done) {
    const d = new Dio(chain, anonymousSession());
    written.push(pushTo(d, open, { n: written.length }).key);
    await d.commit();
    await new Promise((r) => setImmediate(r));
  }
  t.diagnostic(`${written.length} objects written during compaction: ${describe(await compaction)}`);
  const missing = written.filter((key) => !chain.view.objects.has(key)).length;
  await b1.close();
  const b2 = builder({ logPath });
  const again = await b2.open('busy');
  const lost = written.filter((key) => !again.view.objects.has(key)).length;
  const a50 = await load<{ v: number }>(again, a.key);
  await b2.close();
  assert.equal(missing, 0, `${missing} of ${written.length} objects written during compaction are missing from the view`);
  assert.equal(lost, 0, `${lost} of ${written.length} objects written during compaction are lost after reopening`);
  assert.equal(a50.v, 50);
});

test('compaction shrinks the log', async (t) => {
  const logPath = await tempDir();
  const b = builder({ logPath });
  const chain = await b.open('shrink');
  const keys: PrimaryKey[] = [];
  const dio = new Dio(chain, ownerSession);
  for (let i = 0; i < 200; i++) keys.push(dio.store({ i, v: 0, pad: PAD }).key);
  await dio.commit();
  for (let v = 1; v < 10; v++) {
    const d = new Dio(chain, ownerSession);
    for (const key of keys) {
      const dao = await d.load<{ i: number; v: number; pad: string }>(key);
      dao.value = { ...dao.value, v };
      dao.commit();
    }
    await d.commit();
  }
  await chain.sync();
  const stats = await chain.compact();
  t.diagnostic(`200 objects x 10 versions: ${describe(stats)}`);
  const proofs = stats.after - 200;
  assert.ok(proofs >= 1 && proofs <= 2, `the newest versions and the proofs of the last commit (grouped with the one before it at most), got ${proofs}`);
  assert.ok(stats.bytesAfter * 5 < stats.bytesBefore, describe(stats));
  await b.close();
});

test('loads racing a compaction still return the right values', async () => {
  const b = builder({ logPath: await tempDir() });
  const chain = await b.open('racing');
  const keys: PrimaryKey[] = [];
  for (let round = 0; round < 5; round++) {
    const dio = new Dio(chain, ownerSession);
    for (let i = 0; i < 50; i++) {
      if (round === 0) keys.push(dio.store({ i, round }).key);
      else {
        const dao = await dio.load<{ i: number; round: number }>(keys[i]!);
        dao.value = { i, round };
        dao.commit();
      }
    }
    await dio.commit();
  }
  await chain.sync();
  // Readers keep loading while the compaction runs, so some reads are in flight when the log swaps.
  let compacting = true;
  const readers = Array.from({ length: 4 }, async () => {
    let reads = 0;
    for (let n = 0; compacting || n < 50; n++) {
      const i = n % keys.length;
      const dao = await new Dio(chain, ownerSession).load<{ i: number; round: number }>(keys[i]!);
      assert.deepEqual(dao.value, { i, round: 4 });
      reads++;
      // Cached loads resolve in microtasks only: let the compaction's I/O run.
      await new Promise((r) => setImmediate(r));
    }
    return reads;
  });
  await chain.compact();
  compacting = false;
  assert.ok((await Promise.all(readers)).every((r) => r >= 50));
  await b.close();
});
