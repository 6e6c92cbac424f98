// Bad input: garbage, oversized frames, unknown types, bad shapes and a connection flood cost
// only the offending connections; everyone else keeps being served and nothing confirmed is lost.
import assert from 'node:assert/strict';
import { type Socket, connect as netConnect } from 'node:net';
import { test } from 'node:test';
import { Dio, clientOffer, encode, encodeFrame, generateSignKey, publicSignKey, userSession } from '../../src/core/index.js';
import { TestClient, eventsOf, ids, localChain, startAtedb } from './helpers.js';

const owner = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(7));
const session = userSession({ writeKeys: [owner] });

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves once the server closed the socket (with what it sent before). */
function closedBy(s: Socket): Promise<Buffer> {
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  s.on('error', () => undefined);
  return new Promise((resolve) => s.on('close', () => resolve(Buffer.concat(got))));
}

/** A plaintext connection past its hello, as a raw socket. */
async function afterHello(port: number): Promise<Socket> {
  const s = await rawSocket(port);
  s.write(encodeFrame(clientOffer(0).payload));
  await new Promise((r) => s.once('data', r));
  return s;
}

test('garbage, oversized frames, unknown types and bad shapes close only their own connection', async () => {
  const db = await startAtedb({ args: ['--no-auth', '--no-wire-encryption'] });
  const name = '/example.com/joe/steady';
  const chain = await localChain(name);
  const dio = new Dio(chain, session);
  for (let i = 0; i < 3; i++) dio.store({ i }, { writers: [publicSignKey(owner)] });
  await dio.commit();
  const first = await eventsOf(chain);
  const good = await TestClient.connect(db.port);
  await good.subscribe(name);
  assert.equal(await good.commit(first), 'confirmed');

  const oversized = Buffer.alloc(4);
  oversized.writeUInt32BE(64 * 1024 * 1024);
  const attacks: [string, (s: Socket) => void, boolean][] = [
    ['garbage before hello', (s) => s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), false],
    ['oversized hello', (s) => s.write(oversized), false],
    ['oversized frame', (s) => s.write(oversized), true],
    ['garbage frame', (s) => s.write(encodeFrame(Buffer.from([0xc1, 0xff, 0x00]))), true],
    ['unknown type', (s) => s.write(encodeFrame(encode({ t: 'drop-tables' } as never))), true],
    ['bad shape', (s) => s.write(encodeFrame(encode({ t: 'subscribe', chain: 42, from: 'zero' } as never))), true],
    ['events before subscribe', (s) => s.write(encodeFrame(encode({ t: 'events', commit: 1, evts: [new Uint8Array(3)] }))), true],
  ];
  for (const [what, attack, hello] of attacks) {
    const s = hello ? await afterHello(db.port) : await rawSocket(db.port);
    const closed = closedBy(s);
    attack(s);
    const sent = await closed;
    if (hello) assert.ok(sent.includes('fatal'), `${what}: the server says why before it closes`);
  }

  // Everyone else is still served: the good client commits more and sees it live.
  const more = new Dio(chain, session);
  more.store({ after: true }, { writers: [publicSignKey(owner)] });
  await more.commit();
  const second = await eventsOf(chain, first.length);
  assert.equal(await good.commit(second), 'confirmed');
  const all = await (await TestClient.connect(db.port)).subscribe(name);
  assert.deepEqual(ids(all.events), ids([...first, ...second]), 'nothing confirmed was lost');
  assert.equal(good.closed, false);
});

test('a flood of idle connections: the cap closes the extra ones at once, the handshake timeout the rest; clients already in keep working', async () => {
  const db = await startAtedb({ args: ['--no-auth', '--max-connections', '20', '--handshake-timeout', '2s'] });
  const name = '/example.com/joe/flood';
  const good = await TestClient.connect(db.port);
  await good.subscribe(name);
  const flood = await Promise.all(Array.from({ length: 60 }, () => rawSocket(db.port).catch(() => undefined)));
  const closings = flood.filter((s): s is Socket => s !== undefined).map((s) => closedBy(s));
  const started = Date.now();
  await Promise.all(closings);
  assert.ok(Date.now() - started < 10_000, 'every idle connection was closed within the timeout');
  // The connected client was served throughout, and a new one gets in once the flood is gone.
  const chain = await localChain(name);
  const dio = new Dio(chain, session);
  dio.store({ x: 1 }, { writers: [publicSignKey(owner)] });
  await dio.commit();
  assert.equal(await good.commit(await eventsOf(chain)), 'confirmed');
  const late = await TestClient.connect(db.port);
  const { events } = await late.subscribe(name);
  assert.equal(events.length, (await eventsOf(chain)).length);
});
