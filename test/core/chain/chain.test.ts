import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type Chain,
  ChainBuilder,
  type CollectionId,
  Conversation,
  DecryptError,
  Dio,
  KeyRing,
  MissingReadKeyError,
  MissingWriteKeyError,
  NewRootsDisabledError,
  NotFoundError,
  type PrimaryKey,
  ReadOnlyError,
  ReplayError,
  TimeError,
  TrustError,
  anonymousSession,
  daoVec,
  decodeEvent,
  encodeEvent,
  eventIdOf,
  generateReadKeyPair,
  generateSignKey,
  generateSymmetricKey,
  iterate,
  openFileLog,
  publicReadKey,
  publicSignKey,
  pushTo,
  signKeyId,
  type SymmetricKey,
  open,
  primaryKeyBytes,
  userSession,
} from '../../../src/core/index.js';
import { history, owner, ownerSession, stranger, tempDir } from './fixtures.js';


test('store then load an object, in memory', async () => {
  const builder = new ChainBuilder();
  const chain = await builder.open('universe');
  const dio = new Dio(chain, anonymousSession());
  const dao = dio.store({ commandment: 'Hello' });
  await dio.commit();
  const loaded = await new Dio(chain, anonymousSession()).load<{ commandment: string }>(dao.key);
  assert.equal(loaded.value.commandment, 'Hello');
  assert.ok(loaded.created !== undefined && loaded.updated !== undefined);
  await assert.rejects(new Dio(chain, anonymousSession()).load('0000000000000000' as never), NotFoundError);
  await builder.close();
});

test('children, updates and deletes keep the view right', async () => {
  const builder = new ChainBuilder();
  const chain = await builder.open('tree');
  const session = anonymousSession();
  const dio = new Dio(chain, session);
  const root = dio.store({ name: 'root' });
  const vec = daoVec(root.key);
  const a = pushTo(dio, vec, { name: 'a' });
  pushTo(dio, vec, { name: 'b' });
  await dio.commit();
  assert.deepEqual((await iterate<{ name: string }>(new Dio(chain, session), vec)).map((d) => d.value.name).sort(), ['a', 'b']);

  const dio2 = new Dio(chain, session);
  const loaded = await dio2.load<{ name: string }>(a.key);
  loaded.value = { name: 'a2' };
  loaded.commit();
  await dio2.commit();
  assert.equal((await new Dio(chain, session).load<{ name: string }>(a.key)).value.name, 'a2');

  const dio3 = new Dio(chain, session);
  dio3.delete(a.key);
  await dio3.commit();
  assert.equal(new Dio(chain, session).exists(a.key), false);
  assert.deepEqual((await iterate<{ name: string }>(new Dio(chain, session), vec)).map((d) => d.value.name), ['b']);
  await builder.close();
});

test('data is encrypted for its readers; others get MissingReadKeyError', async () => {
  const builder = new ChainBuilder();
  const chain = await builder.open('secrets');
  const key = generateSymmetricKey();
  const kem = generateReadKeyPair();
  const writer = userSession({ readKeys: [key] });
  const dio = new Dio(chain, writer);
  const folder = dio.store({ name: 'folder' }, { readers: [{ kind: 'symmetric', key }, { kind: 'public', key: publicReadKey(kem) }] });
  const file = pushTo(dio, daoVec(folder.key, 1 as never), { text: 'the plaintext secret' });
  await dio.commit();

  for (const bytes of await history(chain)) assert.ok(!Buffer.from(bytes).includes('the plaintext secret'), 'plaintext found in a stored event');
  assert.equal((await new Dio(chain, writer).load<{ text: string }>(file.key)).value.text, 'the plaintext secret');
  const kemReader = userSession({ privateReadKeys: [kem] });
  assert.equal((await new Dio(chain, kemReader).load<{ text: string }>(file.key)).value.text, 'the plaintext secret');
  await assert.rejects(new Dio(chain, anonymousSession()).load(file.key), MissingReadKeyError);
  await assert.rejects(new Dio(chain, userSession({ readKeys: [generateSymmetricKey()] })).load(file.key), MissingReadKeyError);
  await builder.close();
});

test('rewrapping a data key for new readers does not re-encrypt the data', async () => {
  const builder = new ChainBuilder();
  const chain = await builder.open('rewrap');
  const first = generateSymmetricKey();
  const second = generateSymmetricKey();
  const dio = new Dio(chain, userSession({ readKeys: [first] }));
  const dao = dio.store({ text: 'shared later' }, { readers: [{ kind: 'symmetric', key: first }] });
  await dio.commit();
  const before = (await chain.readEvent(chain.view.objects.get(dao.key)!.latest)).data!;

  const dio2 = new Dio(chain, userSession({ readKeys: [first] }));
  dio2.rewrap(await dio2.load(dao.key), [
    { kind: 'symmetric', key: first },
    { kind: 'symmetric', key: second },
  ]);
  await dio2.commit();
  const afterBytes = (await chain.readEvent(chain.view.objects.get(dao.key)!.latest)).data!;
  assert.deepEqual(Buffer.from(afterBytes), Buffer.from(before));
  assert.equal((await new Dio(chain, userSession({ readKeys: [second] })).load<{ text: string }>(dao.key)).value.text, 'shared later');
  await builder.close();
});

test('rekeying: new readers read everything, a replaced key opens nothing written after; kept across reopen, a second rekey and a rewrap', async () => {
  const logPath = await tempDir();
  const [removed, stays, next, later, added] = [1, 2, 3, 4, 5].map(() => generateSymmetricKey()) as [SymmetricKey, SymmetricKey, SymmetricKey, SymmetricKey, SymmetricKey];
  const session = (...keys: SymmetricKey[]) => userSession({ readKeys: keys });
  const text = async (chain: Chain, keys: SymmetricKey[], key: PrimaryKey) => (await new Dio(chain, session(...keys)).load<{ text: string }>(key)).value.text;
  const builder = new ChainBuilder({ logPath });
  const chain = await builder.open('rekey');
  const dio = new Dio(chain, session(stays));
  const folder = dio.store({ text: 'folder' }, { readers: [{ kind: 'symmetric', key: removed }, { kind: 'symmetric', key: stays }] });
  const before = dio.store({ text: 'before' }, { parent: { key: folder.key, collection: 1 as CollectionId } });
  await dio.commit();
  const firstReaders = chain.view.objects.get(folder.key)!.auth!.read;
  assert.equal(firstReaders.kind, 'specific');
  // What the removed member kept: the folder's first data key itself.
  const keptKey = new KeyRing(session(removed)).dataKey(firstReaders.kind === 'specific' ? firstReaders.readers : [], 'folder');

  /** A current reader (`by`) rekeys the folder for `readers`, then writes a child under it. */
  const writeAfter = async (by: SymmetricKey, readers: SymmetricKey[], value: string): Promise<PrimaryKey> => {
    const d = new Dio(chain, session(by, ...readers));
    d.rekey(await d.load(folder.key), readers.map((key) => ({ kind: 'symmetric' as const, key })));
    const after = d.store({ text: value }, { parent: { key: folder.key, collection: 1 as CollectionId } });
    await d.commit();
    return after.key;
  };
  const afterFirst = await writeAfter(stays, [stays, next], 'after the first rekey');
  await assert.rejects(text(chain, [removed], afterFirst), MissingReadKeyError);
  const data = async (key: PrimaryKey) => (await chain.readEvent(chain.view.objects.get(key)!.latest)).data!;
  assert.ok(open(keptKey, await data(before.key), primaryKeyBytes(before.key)), 'the kept data key opens what was written before');
  const sealed = await data(afterFirst);
  assert.throws(() => open(keptKey, sealed, primaryKeyBytes(afterFirst)), DecryptError, 'the kept data key does not open what is written after the rekey');
  assert.equal(await text(chain, [next], folder.key), 'folder', 'the rekeyed object itself is encrypted again');

  const afterSecond = await writeAfter(next, [later], 'after the second rekey');
  await assert.rejects(text(chain, [next], afterSecond), MissingReadKeyError);
  await builder.close();

  const reopenedBuilder = new ChainBuilder({ logPath });
  const reopened = await reopenedBuilder.open('rekey');
  for (const [key, value] of [[before.key, 'before'], [afterFirst, 'after the first rekey'], [afterSecond, 'after the second rekey']] as const) {
    assert.equal(await text(reopened, [later], key), value);
  }
  const d = new Dio(reopened, session(later));
  d.rewrap(await d.load(folder.key), [{ kind: 'symmetric', key: later }, { kind: 'symmetric', key: added }]);
  await d.commit();
  assert.equal(await text(reopened, [added], before.key), 'before', 'a rewrap keeps the earlier keys');
  await reopenedBuilder.close();
});

test('writes need a write key the tree authority accepts', async () => {
  const builder = new ChainBuilder().addRootPublicKey(publicSignKey(owner));
  const chain = await builder.open('owned');
  const dio = new Dio(chain, anonymousSession());
  dio.store({ x: 1 });
  await assert.rejects(dio.commit(), MissingWriteKeyError);
  dio.cancel();

  const good = new Dio(chain, ownerSession);
  const root = good.store({ x: 1 });
  await good.commit();
  await chain.sync();
  assert.equal(chain.unsignedCount, 0);

  // The owner delegates a subtree to the stranger's key.
  const delegate = new Dio(chain, ownerSession);
  const shared = delegate.store({ x: 2 }, { writers: [publicSignKey(stranger)] });
  await delegate.commit();
  const strangerDio = new Dio(chain, userSession({ writeKeys: [stranger] }));
  pushTo(strangerDio, daoVec(shared.key, 1 as never), { x: 3 });
  await strangerDio.commit();
  const notAllowed = new Dio(chain, userSession({ writeKeys: [stranger] }));
  const rootCopy = await notAllowed.load<{ x: number }>(root.key);
  rootCopy.value = { x: 99 };
  rootCopy.commit();
  await assert.rejects(notAllowed.commit(), MissingWriteKeyError);
  await builder.close();
});

test('a peer accepts signed history and refuses forgeries, replays and future timestamps', async () => {
  const source = await new ChainBuilder().addRootPublicKey(publicSignKey(owner)).open('signed');
  const dio = new Dio(source, ownerSession);
  const a = dio.store({ v: 'a' });
  dio.store({ v: 'b' });
  await dio.commit();
  await source.sync();
  const events = await history(source);
  assert.equal(events.length, 3, 'two objects and one proof event');

  const peerBuilder = new ChainBuilder().addRootPublicKey(publicSignKey(owner));
  const peer = await peerBuilder.open('signed');
  const result = peer.ingest(events, { origin: 'remote' });
  assert.deepEqual(result, { applied: 3, parked: 0, parkedIds: [], known: 0, errors: [] });
  assert.equal((await new Dio(peer, anonymousSession()).load<{ v: string }>(a.key)).value.v, 'a');

  const replay = peer.ingest([events[0]!], { origin: 'remote' });
  assert.ok(replay.errors[0] instanceof ReplayError);

  // Without its proof event an event waits, unapplied.
  const lonely = await new ChainBuilder().addRootPublicKey(publicSignKey(owner)).open('signed');
  const unsigned = lonely.ingest(events.slice(0, 2), { origin: 'remote' });
  assert.equal(unsigned.applied, 0);
  assert.equal(unsigned.parked, 2);
  assert.equal(lonely.view.objects.size, 0);

  // Signed by a key without write authority.
  const forger = await new ChainBuilder().addRootPublicKey(publicSignKey(stranger)).open('signed');
  const fdio = new Dio(forger, userSession({ writeKeys: [stranger] }));
  fdio.store({ v: 'forged' });
  await fdio.commit();
  await forger.sync();
  const forged = await history(forger);
  const refused = peer.ingest(forged, { origin: 'remote' });
  assert.equal(refused.applied, 1, 'only the proof event itself is applied');
  assert.ok(refused.errors[0] instanceof TrustError, String(refused.errors[0]));
  assert.match(refused.errors[0].message, /without write authority/);
  assert.equal(peer.view.objects.size, 2);

  // A proof whose signature does not match its events.
  const proof = events[2]!;
  const tampered = Buffer.from(proof);
  tampered[tampered.length - 10]! ^= 1;
  const bad = peer.ingest([tampered], { origin: 'remote' });
  assert.ok(bad.errors[0] instanceof TrustError);

  // Timestamped an hour in the future.
  const future = encodeEvent({ key: '00000000000000aa' as never, timestamp: Date.now() + 3_600_000 }, Buffer.from([0xc0]));
  const open = await new ChainBuilder().open('open');
  const late = open.ingest([future], { origin: 'remote' });
  assert.ok(late.errors[0] instanceof TimeError, String(late.errors[0]));
  for (const c of [source, peer, lonely, forger, open]) await c.close();
});

test('a file chain reopens with its objects, signatures and view', async () => {
  const logPath = await tempDir();
  const make = () => new ChainBuilder({ logPath }).addRootPublicKey(publicSignKey(owner)).setSession(ownerSession);
  const b1 = make();
  const chain = await b1.open('persist');
  const dio = new Dio(chain, ownerSession);
  const keys = [];
  for (let i = 0; i < 50; i++) keys.push(dio.store({ i }).key);
  await dio.commit();
  const dio2 = new Dio(chain, ownerSession);
  dio2.delete(keys[0]!);
  await dio2.commit();
  await b1.close();

  const b2 = make();
  const again = await b2.open('persist');
  assert.equal(again.view.objects.size, 49);
  assert.equal(again.unsignedCount, 0);
  assert.equal((await new Dio(again, anonymousSession()).load<{ i: number }>(keys[7]!)).value.i, 7);
  await b2.close();
});

test('a log modified without the write keys is refused on open with TrustError', async () => {
  const logPath = await tempDir();
  const builder = new ChainBuilder({ logPath }).addRootPublicKey(publicSignKey(owner));
  const chain = await builder.open('tamper');
  const dio = new Dio(chain, ownerSession);
  dio.store({ amount: 100 });
  await dio.commit();
  await builder.close();

  // An attacker rewrites the log (valid framing, no seal key) with a changed amount.
  const dir = join(logPath, 'tamper.log');
  const log = await openFileLog(dir, { chainKey: '/tamper' });
  const events: Uint8Array[] = [];
  for await (const batch of log.replay()) for (const e of batch.events) events.push(Buffer.from(e.bytes));
  // The value is the data's last byte (msgpack positive fixint 100): make it 101, and fix the
  // record's stored event id (its first 32 bytes) so that the record itself looks consistent.
  const victim = Buffer.from(events[0]!);
  assert.equal(victim[victim.length - 1], 100);
  victim[victim.length - 1] = 101;
  createHash('sha256').update(victim.subarray(32)).digest().copy(victim, 0);
  await log.rewrite([victim, ...events.slice(1)], log.header);
  await log.close();

  await assert.rejects(new ChainBuilder({ logPath }).addRootPublicKey(publicSignKey(owner)).open('tamper'), TrustError);
});

test('disable-new-roots refuses parentless objects but accepts children', async () => {
  const chain = await new ChainBuilder({ disableNewRoots: true }).open('roots');
  const d = new Dio(chain, anonymousSession());
  d.store({});
  await assert.rejects(d.commit(), NewRootsDisabledError);
  d.cancel();
  await chain.close();
});

test('group signing covers many commits with one signature per key', async () => {
  const builder = new ChainBuilder().addRootPublicKey(publicSignKey(owner));
  const chain = await builder.open('groups');
  await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const dio = new Dio(chain, ownerSession);
      dio.store({ i });
      await dio.commit();
    }),
  );
  await chain.sync();
  const signatures = (await history(chain)).flatMap((b) => decodeEvent(b).meta.signatures ?? []);
  assert.ok(signatures.length >= 1 && signatures.length < 40, `expected shared signatures, got ${signatures.length} for 40 commits`);
  assert.ok(signatures.every((s) => s.signer === signKeyId(owner)));
  assert.equal(signatures.reduce((n, s) => n + s.events.length, 0), 40);
  await builder.close();
});

test('centralized integrity trusts the server, and keys a connection has proven', async () => {
  const source = await new ChainBuilder().addRootPublicKey(publicSignKey(owner)).open('central');
  const first = new Dio(source, ownerSession);
  first.store({ n: 1 });
  await first.commit();
  await source.sync();
  const second = new Dio(source, ownerSession);
  second.store({ n: 2 });
  await second.commit();
  await source.sync();
  const [e1, proof1, e2] = await history(source);

  const open = (integrity: 'centralized' | 'distributed') => new ChainBuilder({ integrity }).addRootPublicKey(publicSignKey(owner)).open('central');
  const central = await open('centralized');
  const conversation = new Conversation();
  assert.equal(central.ingest([e1!, proof1!], { origin: 'remote', conversation }).applied, 2);
  assert.deepEqual(central.ingest([e2!], { origin: 'remote', conversation }), { applied: 1, parked: 0, parkedIds: [], known: 0, errors: [] }, 'proven key, no signature needed');
  const otherConnection = await open('centralized');
  assert.equal(otherConnection.ingest([e2!], { origin: 'remote', conversation: new Conversation() }).parked, 1);
  const fromServer = await open('centralized');
  assert.equal(fromServer.ingest([e2!], { origin: 'remote', trustedPeer: true }).applied, 1);
  const distributed = await open('distributed');
  assert.equal(distributed.ingest([e2!], { origin: 'remote', trustedPeer: true }).parked, 1, 'distributed integrity trusts no peer');
  for (const c of [source, central, otherConnection, fromServer, distributed]) await c.close();
});

test('time travel opens a chain as it was at a moment or after an event, read-only', async () => {
  const logPath = await tempDir();
  const builder = new ChainBuilder({ logPath });
  const chain = await builder.open('history');
  const d1 = new Dio(chain, anonymousSession());
  const doc = d1.store({ v: 1 });
  await d1.commit();
  const afterFirst = (await history(chain)).length;
  await new Promise((r) => setTimeout(r, 5));
  const t1 = Date.now();
  await new Promise((r) => setTimeout(r, 5));
  const d2 = new Dio(chain, anonymousSession());
  const loaded = await d2.load<{ v: number }>(doc.key);
  loaded.value = { v: 2 };
  loaded.commit();
  await d2.commit();
  await chain.flush();
  const firstId = decodeEvent((await history(chain))[afterFirst - 1]!).meta.key;
  assert.equal(firstId, doc.key);

  const past = await builder.openAt('history', { time: t1 });
  assert.equal((await new Dio(past, anonymousSession()).load<{ v: number }>(doc.key)).value.v, 1);
  const d3 = new Dio(past, anonymousSession());
  d3.store({ v: 3 });
  await assert.rejects(d3.commit(), ReadOnlyError);
  await past.close();

  const ids: string[] = [];
  for await (const bytes of chain.history()) ids.push(eventIdOf(bytes));
  const atEvent = await builder.openAt('history', { eventId: ids[afterFirst - 1] as never });
  assert.equal((await new Dio(atEvent, anonymousSession()).load<{ v: number }>(doc.key)).value.v, 1);
  await atEvent.close();
  await assert.rejects(builder.openAt('history', { eventId: '00'.repeat(32) as never }), /not in the history/);
  assert.equal((await new Dio(chain, anonymousSession()).load<{ v: number }>(doc.key)).value.v, 2);
  await builder.close();
});

test('a log directory is open in one process at a time', async () => {
  const logPath = await tempDir();
  const first = new ChainBuilder({ logPath });
  await first.open('locked');
  await assert.rejects(new ChainBuilder({ logPath }).open('locked'), /already open in this process/);
  await first.close();
  const again = new ChainBuilder({ logPath });
  await again.open('locked');
  await again.close();
});

test('Falcon-512 write keys sign and verify like ML-DSA-65 ones', async () => {
  const falcon = generateSignKey('falcon-512');
  const session = userSession({ writeKeys: [falcon] });
  const source = await new ChainBuilder().addRootPublicKey(publicSignKey(falcon)).open('falcon');
  const dio = new Dio(source, session);
  dio.store({ pq: 'falcon' });
  await dio.commit();
  await source.sync();
  const peer = await new ChainBuilder().addRootPublicKey(publicSignKey(falcon)).open('falcon');
  assert.deepEqual(peer.ingest(await history(source), { origin: 'remote' }), { applied: 2, parked: 0, parkedIds: [], known: 0, errors: [] });
  await source.close();
  await peer.close();
});
