// atedb as a process: streaming chains, live updates, commits and their refusals, locks,
// durability across kill -9 and SIGTERM, the open policy, wire encryption on and off.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  Dio,
  type PrimaryKey,
  decodeEvent,
  decodeKey,
  generateSignKey,
  publicSignKey,
  userSession,
} from '../../src/core/index.js';
import { ATEDB, TestClient, eventsOf, ids, localChain, recordingProxy, startAtedb } from './helpers.js';

const owner = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(7));
const stranger = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(9));
const ownerSession = userSession({ writeKeys: [owner] });
const strangerSession = userSession({ writeKeys: [stranger] });

/** A local chain with `n` objects that only the owner may change, and their keys. */
async function ownedObjects(chainName: string, n: number) {
  const chain = await localChain(chainName);
  const dio = new Dio(chain, ownerSession);
  const keys: PrimaryKey[] = [];
  for (let i = 0; i < n; i++) keys.push(dio.store({ i }, { writers: [publicSignKey(owner)] }).key);
  await dio.commit();
  return { chain, keys };
}

async function update(chain: Awaited<ReturnType<typeof localChain>>, session: typeof ownerSession, key: PrimaryKey, value: unknown): Promise<Uint8Array[]> {
  const before = chain.count;
  const dio = new Dio(chain, session);
  const dao = await dio.load(key);
  dao.value = value;
  dao.commit();
  await dio.commit();
  return eventsOf(chain, before);
}

test('a chain built locally streams back from the server; live updates reach every other subscriber, and the writer a confirmed past its own', async () => {
  const db = await startAtedb();
  const name = '/example.com/joe/notes';
  const { chain, keys } = await ownedObjects(name, 5);
  const events = await eventsOf(chain);

  const writer = await TestClient.connect(db.port);
  const first = await writer.subscribe(name);
  assert.equal(first.events.length, 0);
  assert.equal(first.start.integrity, 'centralized');
  assert.deepEqual(first.start.rootKeys, [], '--no-auth: no root key');
  assert.equal(await writer.commit(events), 'confirmed');

  const reader = await TestClient.connect(db.port);
  const history = await reader.subscribe(name);
  assert.deepEqual(ids(history.events), ids(events), 'the same events');
  assert.equal(history.end, events.length);
  assert.equal(history.start.size, events.length);

  const more = await update(chain, ownerSession, keys[0]!, { i: 'changed' });
  assert.ok(more.length >= 2, 'the change and its proof');
  assert.equal(await writer.commit(more), 'confirmed');
  const live = await reader.waitFor(() => (reader.liveEvents().length >= more.length ? reader.liveEvents() : undefined));
  assert.deepEqual(ids(live.map((e) => e.bytes)), ids(more));
  assert.deepEqual(live.map((e) => e.seq), more.map((_, i) => events.length + i), 'at their server positions');
  // Events are sent before the confirmed of their commit: an echo would be here by now.
  assert.deepEqual(writer.liveEvents(), [], 'the writer is not sent its own events');
  const seqs = writer.received.flatMap((m) => (m.t === 'confirmed' ? [m.seq] : []));
  assert.deepEqual(seqs, [events.length, events.length + more.length], 'each confirmed carries the stream past the commit');

  // The reader's commit reaches the writer, and the reader's confirmed covers it.
  const third = await update(chain, ownerSession, keys[1]!, { i: 'from the reader' });
  assert.equal(await reader.commit(third), 'confirmed');
  const atWriter = await writer.waitFor(() => (writer.liveEvents().length >= third.length ? writer.liveEvents() : undefined));
  assert.deepEqual(ids(atWriter.map((e) => e.bytes)), ids(third));
  assert.equal(atWriter[0]!.seq, events.length + more.length);
  assert.equal(reader.liveEvents().length, more.length, 'nor is the reader sent its own');

  // Resuming from a position with the epoch streams only what follows; another epoch starts over.
  const resumed = await (await TestClient.connect(db.port)).subscribe(name, events.length, history.start.epoch);
  assert.deepEqual(ids(resumed.events), ids([...more, ...third]));
  const stale = await (await TestClient.connect(db.port)).subscribe(name, events.length, 'ffffffffffffffff');
  assert.equal(stale.events.length, events.length + more.length + third.length);
});

test('a commit sent while the history streams is confirmed after its end, past the history and its own events', async () => {
  const db = await startAtedb();
  const name = '/example.com/joe/long';
  const chain = await localChain(name);
  const anyone = userSession({});
  // 20 MB: more than the socket buffers hold, so the history stalls while the reader does not read.
  for (let i = 0; i < 10; i++) {
    const dio = new Dio(chain, anyone);
    for (let j = 0; j < 1000; j++) dio.store({ i, j, pad: 'x'.repeat(2000) });
    await dio.commit();
  }
  const history = await eventsOf(chain);
  const writer = await TestClient.connect(db.port);
  await writer.subscribe(name);
  for (let i = 0; i < history.length; i += 2000) assert.equal(await writer.commit(history.slice(i, i + 2000)), 'confirmed');

  const late = new Dio(chain, anyone);
  late.store({ late: true });
  await late.commit();
  const mine = await eventsOf(chain, history.length);
  const reader = await TestClient.connect(db.port);
  reader.send({ t: 'subscribe', chain: name, from: 0 });
  reader.send({ t: 'events', commit: 1, evts: mine });
  reader.wire.pauseReading();
  await sleep(500);
  reader.wire.resumeReading();
  const msgs = await reader.waitFor((m) => (m.some((x) => x.t === 'confirmed') ? m : undefined), 30_000, 'the confirmed');
  const end = msgs.findIndex((x) => x.t === 'end');
  const confirmed = msgs.find((x) => x.t === 'confirmed');
  assert.ok(end !== -1 && end < msgs.indexOf(confirmed!), 'the confirmed waits for the end of the history');
  assert.equal(confirmed?.t === 'confirmed' && confirmed.seq, history.length + mine.length);
  const streamed = msgs.flatMap((x) => (x.t === 'events' ? x.evts : []));
  assert.deepEqual(ids(streamed), ids(history), "the history, and not the reader's own events");
});

test('commitError for forged signatures, missing write authority and malformed events; the connection keeps working; replays are idempotent', async () => {
  const db = await startAtedb();
  const name = '/example.com/joe/guarded';
  const { chain, keys } = await ownedObjects(name, 2);
  const client = await TestClient.connect(db.port);
  await client.subscribe(name);
  const base = await eventsOf(chain);
  assert.equal(await client.commit(base), 'confirmed');

  // A stranger's change to an owner's object: made on a replica where the stranger made "the same" object.
  const forgery = await localChain(name);
  const fake = new Dio(forgery, strangerSession);
  fake.store({ i: 'mine' }, { key: keys[0]!, writers: [publicSignKey(stranger)] });
  await fake.commit();
  const unauthorized = await update(forgery, strangerSession, keys[0]!, { i: 'stolen' });
  assert.match(await client.commit(unauthorized), /without write authority/);

  // The owner's real change with its signature altered.
  const real = await update(chain, ownerSession, keys[1]!, { i: 'real' });
  const proofAt = real.findIndex((e) => decodeEvent(e).meta.signatures !== undefined);
  const proof = Buffer.from(real[proofAt]!);
  const sig = decodeEvent(proof).meta.signatures![0]!.signature;
  const at = proof.indexOf(Buffer.from(sig.subarray(0, 32)));
  proof[at + 10]! ^= 0xff;
  const forged = real.map((e, i) => (i === proofAt ? proof : e));
  assert.match(await client.commit(forged), /does not verify/);

  assert.match(await client.commit([new Uint8Array([1, 2, 3])]), /malformed event/);

  // The connection still works: the real change goes through, and a replay of it changes nothing.
  assert.equal(await client.commit(real), 'confirmed');
  assert.equal(await client.commit(real), 'confirmed', 'events the server holds count as accepted');
  assert.equal(await client.commit(base), 'confirmed');
  const check = ids((await (await TestClient.connect(db.port)).subscribe(name)).events);
  for (const id of ids([...base, ...real])) assert.equal(check.filter((x) => x === id).length, 1, 'every valid event, once');
  assert.ok(!check.includes(ids([forged[proofAt]!])[0]!), 'the forged proof was not stored');
  const stolen = unauthorized.filter((e) => decodeEvent(e).meta.key !== undefined);
  assert.ok(!check.includes(ids(stolen)[0]!), "the stranger's change was not stored");
});

test('confirmed means durable: kill -9 right after, restart, every confirmed event is served', async () => {
  const db = await startAtedb();
  const name = '/example.com/joe/durable';
  const { chain, keys } = await ownedObjects(name, 3);
  const client = await TestClient.connect(db.port);
  await client.subscribe(name);
  const all = await eventsOf(chain);
  assert.equal(await client.commit(all), 'confirmed');
  for (let i = 0; i < 5; i++) {
    const more = await update(chain, ownerSession, keys[i % 3]!, { round: i });
    assert.equal(await client.commit(more), 'confirmed');
    all.push(...more);
  }
  await db.stop('SIGKILL');
  const again = await startAtedb({ logsPath: db.logsPath });
  const served = await (await TestClient.connect(again.port)).subscribe(name);
  assert.deepEqual(ids(served.events), ids(all));
});

test('SIGTERM: commits in flight finish, exit 0, and a restart serves every confirmed event', async () => {
  const db = await startAtedb();
  const name = '/example.com/joe/term';
  const { chain } = await ownedObjects(name, 50);
  const client = await TestClient.connect(db.port);
  await client.subscribe(name);
  const events = await eventsOf(chain);
  client.send({ t: 'events', commit: 99, evts: events });
  const code = await db.stop('SIGTERM');
  assert.equal(code, 0, db.stderr());
  const confirmed = client.received.some((m) => m.t === 'confirmed' && m.commit === 99);
  const again = await startAtedb({ logsPath: db.logsPath });
  const served = await (await TestClient.connect(again.port)).subscribe(name);
  if (confirmed) assert.deepEqual(ids(served.events), ids(events));
  assert.equal(served.events.length % events.length, 0, 'all of the commit or none of it');
  assert.equal(await again.stop('SIGINT'), 0);
});

test('locks: one holder at a time, released when the holder disconnects', async () => {
  const db = await startAtedb();
  const name = '/example.com/joe/locks';
  const a = await TestClient.connect(db.port);
  const b = await TestClient.connect(db.port);
  await a.subscribe(name);
  await b.subscribe(name);
  const key = '0123456789abcdef';
  const lock = async (c: TestClient, t: 'lock' | 'unlock'): Promise<boolean> => {
    const before = c.received.length;
    c.send({ t, key });
    const r = await c.waitFor((m) => m.slice(before).find((x) => x.t === 'lockResult'));
    return (r as { locked: boolean }).locked;
  };
  assert.equal(await lock(a, 'lock'), true);
  assert.equal(await lock(a, 'lock'), true, 'the holder may ask again');
  assert.equal(await lock(b, 'lock'), false);
  assert.equal(await lock(a, 'unlock'), false);
  assert.equal(await lock(b, 'lock'), true);
  b.wire.close();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await lock(a, 'lock'), true, "b's lock went with its connection");
});

test('open policy: refusals name the accepted forms; group chains need an auth server; an unreachable auth server is named', async () => {
  const db = await startAtedb();
  const c = await TestClient.connect(db.port);
  for (const bad of ['/a/b', '/example.com/joe/db/extra', '/example.com/../etc', '/~joe']) {
    const r = await (await TestClient.connect(db.port)).refusal(bad);
    assert.equal(r.code, 'bad-request', bad);
    assert.match(r.message, /\/<domain>\/<user>\/<db>.*\/<group>/, bad);
  }
  const group = await c.refusal('/engineering');
  assert.equal(group.code, 'denied');
  assert.match(group.message, /group chains need an auth server; start atedb with --auth/);

  const closed = await startAtedb();
  const deadPort = closed.port;
  await closed.stop();
  const withAuth = await startAtedb({ args: ['--auth', `tcp://127.0.0.1:${deadPort}`] });
  const r = await (await TestClient.connect(withAuth.port)).refusal('/example.com/joe/db');
  assert.equal(r.code, 'denied');
  assert.ok(r.message.includes(`tcp://127.0.0.1:${deadPort}`), r.message);
});


test('--no-wire-encryption takes effect: a client that asks for none talks plaintext; by default the server demands encryption', async () => {
  const canary = '/example.com/joe/canary7f3a9';
  for (const [args, plain] of [
    [['--no-auth', '--no-wire-encryption'], true],
    [['--no-auth'], false],
    [['--no-auth', '--wire-encryption', '256'], false],
  ] as const) {
    const db = await startAtedb({ args: [...args] });
    const proxy = await recordingProxy(db.port);
    try {
      const c = await TestClient.connect(proxy.port, { encryption: 0 });
      assert.equal(c.wire.encryption, plain ? 0 : (args as readonly string[]).includes('256') ? 256 : 128);
      await c.subscribe(canary);
      assert.equal(proxy.bytes().includes('canary7f3a9'), plain, args.join(' '));
    } finally {
      proxy.close();
    }
  }
});

test('server identity: server.key (0600) made on first start, printed by atedb fingerprint, pinned by clients', async () => {
  const db = await startAtedb({ args: ['--no-auth', '-v'] });
  const info = await stat(join(db.logsPath, 'server.key'));
  assert.equal(info.mode & 0o777, 0o600);
  const { stdout } = await promisify(execFile)(process.execPath, [ATEDB, 'fingerprint', db.logsPath]);
  const fingerprint = stdout.trim();
  assert.match(fingerprint, /^[0-9a-f]{64}$/);
  assert.ok(db.stderr().includes(fingerprint), 'printed with -v');
  const c = await TestClient.connect(db.port, { encryption: 256 });
  assert.equal(c.wire.serverFingerprint, fingerprint);
  // The root keys a server announces decode as sign keys (here: none, with --no-auth).
  const { start } = await c.subscribe('/example.com/joe/id');
  for (const k of start.rootKeys) assert.equal(decodeKey(k).kind, 'sign-public');
});
