// The wire layer: frames (fuzzed), messages, handshake with and without encryption, key pinning,
// and what actually travels on the socket.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { recordingProxy } from '../../server/helpers.js';
import {
  FrameDecoder,
  MAX_FRAME,
  ServerIdentityError,
  MeshError,
  WireError,
  type ClientMessage,
  type ServerMessage,
  type WireConnection,
  clientOffer,
  connect,
  decode,
  decodeClientMessage,
  decodeServerMessage,
  encode,
  encodeFrame,
  generateSignKey,
  listen,
  publicSignKey,
  serverFingerprint,
} from '../../../src/core/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempFile(name: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ate-wire-'));
  dirs.push(d);
  return join(d, name);
}

const identity = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(3));
const otherIdentity = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(4));

describe('frames', () => {
  test('any byte split of any frame sequence decodes to the same payloads (10,000 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(4000), { maxLength: 12 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const decoder = new FrameDecoder();
          const out: Uint8Array[] = [];
          let at = 0;
          for (const p of [...points, stream.length]) {
            out.push(...decoder.push(stream.subarray(at, p)));
            at = p;
          }
          assert.deepEqual(out.map((b) => Buffer.from(b).toString('hex')), payloads.map((b) => Buffer.from(b).toString('hex')));
          assert.equal(decoder.pending, 0);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  test('garbage bytes give payloads or a WireError, never anything else (10,000 cases)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), (chunks) => {
        const decoder = new FrameDecoder();
        try {
          for (const c of chunks) for (const p of decoder.push(c)) assert.ok(p.length <= MAX_FRAME);
        } catch (err) {
          assert.ok(err instanceof WireError, String(err));
        }
      }),
      { numRuns: 10_000 },
    );
  });

  test('an oversized length is refused at its header, before its bytes arrive', () => {
    const decoder = new FrameDecoder();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME + 1);
    assert.throws(() => decoder.push(header), WireError);
    assert.throws(() => decoder.push(Buffer.alloc(1)), WireError, 'a refused stream stays refused');
    assert.throws(() => encodeFrame(new Uint8Array(MAX_FRAME + 1)), WireError);
    assert.equal(new FrameDecoder().push(encodeFrame(new Uint8Array(MAX_FRAME))).length, 1, 'exactly MAX_FRAME is fine');
  });
});

describe('messages', () => {
  const bin = new Uint8Array([1, 2, 3]);
  const client: ClientMessage[] = [
    { t: 'subscribe', chain: '/example.com/joe/db', from: 0 },
    { t: 'subscribe', chain: '/g', from: 12, epoch: '0011223344556677' },
    { t: 'subscribe', chain: '/g', from: 0, token: 'ate-token:abc' },
    { t: 'events', commit: 7, evts: [bin, new Uint8Array(0)] },
    { t: 'lock', key: '0123456789abcdef' },
    { t: 'unlock', key: '0123456789abcdef' },
    { t: 'request', id: 1, method: 'user.advert', body: { email: 'joe@example.com', raw: bin } },
    { t: 'fatal', message: 'bye' },
  ];
  const server: ServerMessage[] = [
    { t: 'start', chain: '/g', epoch: 'e', size: 3, integrity: 'centralized', rootKeys: [bin] },
    { t: 'events', seq: 5, evts: [bin] },
    { t: 'end', seq: 8 },
    { t: 'confirmed', commit: 7 },
    { t: 'confirmed', commit: 8, seq: 120 },
    { t: 'commitError', commit: 7, message: 'no' },
    { t: 'lockResult', key: '0123456789abcdef', locked: true },
    { t: 'refused', code: 'not-this-root', message: 'elsewhere', home: '10.0.0.1:5000' },
    { t: 'response', id: 1, ok: true, body: { signKey: bin } },
    { t: 'response', id: 2, ok: false, message: 'unknown method' },
  ];
  const plain = (v: unknown): unknown =>
    v instanceof Uint8Array ? [...v] : Array.isArray(v) ? v.map(plain) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v;

  test('every message survives encode and decode', () => {
    for (const m of client) assert.deepEqual(plain(decodeClientMessage(encode(m))), plain(m));
    for (const m of server) assert.deepEqual(plain(decodeServerMessage(encode(m))), plain(m));
    for (const m of [...client, ...server]) assert.deepEqual(plain(decode(encode(m))), plain(m));
    const evts = decodeClientMessage(encode(client[3]!));
    assert.ok(evts.t === 'events' && evts.evts[0] instanceof Uint8Array);
  });

  test('unknown types, missing and mistyped fields are WireErrors', () => {
    const bad: unknown[] = [
      { t: 'nonsense' },
      { t: 'subscribe', from: 0 },
      { t: 'subscribe', chain: 5, from: 0 },
      { t: 'subscribe', chain: '/a', from: -1 },
      { t: 'subscribe', chain: '/a', from: 1.5 },
      { t: 'subscribe', chain: '/a', from: 0, token: new Uint8Array(3) },
      { t: 'events', commit: 1, evts: ['not binary'] },
      { t: 'events', commit: '1', evts: [] },
      { t: 'lock' },
      { t: 'request', id: 1, body: {} },
      [1, 2, 3],
      'hello',
      { no: 'type' },
    ];
    for (const b of bad) assert.throws(() => decodeClientMessage(encode(b as ClientMessage)), WireError, JSON.stringify(b));
    assert.throws(() => decodeServerMessage(encode({ t: 'refused', code: 'maybe', message: 'x' } as unknown as ServerMessage)), WireError);
    assert.throws(() => decodeServerMessage(encode({ t: 'lockResult', key: 'k', locked: 'yes' } as unknown as ServerMessage)), WireError);
    assert.throws(() => decodeServerMessage(encode({ t: 'confirmed', commit: 1, seq: -4 } as unknown as ServerMessage)), WireError);
    assert.throws(() => decodeClientMessage(encode({ t: 'subscribe', chain: '/a', from: 0 }).subarray(0, 5)), WireError, 'truncated');
    assert.throws(() => decodeClientMessage(Buffer.from([0xc1])), WireError, 'not msgpack');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decode(bytes);
        } catch (err) {
          assert.ok(err instanceof WireError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });
});


/** A server that answers each request with its body and method. */
async function echoServer(encryption: 0 | 128 | 192 | 256 | 'off', key = identity) {
  const conns: WireConnection<ClientMessage, ServerMessage>[] = [];
  const l = await listen({ host: '127.0.0.1', port: 0, identity: key, encryption }, (c) => {
    conns.push(c);
    c.onMessage = (m) => {
      if (m.t === 'request') c.send({ t: 'response', id: m.id, ok: true, body: { method: m.method, body: m.body } });
    };
  });
  return {
    port: l.port,
    conns,
    close: async () => {
      await l.close();
      for (const c of conns) c.close();
    },
  };
}

async function ask(c: WireConnection<ServerMessage, ClientMessage>, method: string): Promise<ServerMessage> {
  const answer = new Promise<ServerMessage>((resolve) => (c.onMessage = resolve));
  c.send({ t: 'request', id: 1, method, body: 'x' });
  return answer;
}

describe('handshake and connections', () => {
  test('encryption: either side wanting it wins, at the larger key size', async () => {
    const pins = await tempFile('known_servers');
    for (const [server, client, expected] of [
      ['off', 0, 0],
      ['off', 256, 256],
      [128, 0, 128],
      [128, 192, 192],
      [256, 128, 256],
    ] as const) {
      const s = await echoServer(server);
      try {
        const c = await connect({ host: '127.0.0.1', port: s.port, encryption: client, knownServersPath: pins });
        assert.equal(c.encryption, expected, `server ${server}, client ${client}`);
        assert.equal(c.serverFingerprint, expected === 0 ? undefined : serverFingerprint(publicSignKey(identity)));
        const reply = await ask(c, 'echo');
        assert.deepEqual(reply, { t: 'response', id: 1, ok: true, body: { method: 'echo', body: 'x' } });
        c.close();
      } finally {
        await s.close();
      }
    }
  });

  test('plaintext really is plaintext, and encrypted frames hide it', async () => {
    for (const enc of [0, 256] as const) {
      const s = await echoServer('off');
      const proxy = await recordingProxy(s.port);
      try {
        const c = await connect({ host: '127.0.0.1', port: proxy.port, encryption: enc, knownServersPath: await tempFile('k') });
        await ask(c, 'canary-7f3a9');
        c.close();
        assert.equal(proxy.bytes().includes('canary-7f3a9'), enc === 0, `encryption ${enc}`);
      } finally {
        proxy.close();
        await s.close();
      }
    }
  });

  test('a server key is pinned on first use; another key later is refused with the file and line', async () => {
    const pins = await tempFile('known_servers');
    await writeFile(pins, '# servers\nexample.org:5000 ' + 'ab'.repeat(32) + '\n');
    const first = await echoServer(128);
    const port = first.port;
    const c = await connect({ host: '127.0.0.1', port, encryption: 128, knownServersPath: pins });
    c.close();
    await first.close();
    const fp = serverFingerprint(publicSignKey(identity));
    assert.match(await readFile(pins, 'utf8'), new RegExp(`^127\\.0\\.0\\.1:${port} ${fp}$`, 'm'));
    // Same identity again: accepted. Another identity on the same host:port: refused.
    const impostor = await listen({ host: '127.0.0.1', port, identity: otherIdentity, encryption: 128 }, (x) => x.close());
    try {
      await assert.rejects(connect({ host: '127.0.0.1', port, encryption: 0, knownServersPath: pins }), (err: Error) => {
        assert.ok(err instanceof ServerIdentityError);
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.ok(err.message.includes(fp) && err.message.includes(serverFingerprint(publicSignKey(otherIdentity))));
        assert.ok(err.message.includes(pins) && err.message.includes('line 3'), err.message);
        return true;
      });
      // An explicit fingerprint is checked instead of the file.
      const ok = await connect({ host: '127.0.0.1', port, encryption: 128, fingerprint: serverFingerprint(publicSignKey(otherIdentity)), knownServersPath: pins });
      ok.close();
      await assert.rejects(connect({ host: '127.0.0.1', port, encryption: 128, fingerprint: fp }), ServerIdentityError);
    } finally {
      await impostor.close();
    }
  });

  test('an unreachable server is one clear MeshError', async () => {
    const s = await echoServer('off');
    const port = s.port;
    await s.close();
    await assert.rejects(connect({ host: '127.0.0.1', port, encryption: 0 }), (err: Error) => {
      assert.ok(err instanceof MeshError);
      assert.equal(err.message, `cannot reach atedb at 127.0.0.1:${port} (connection refused); is the server running?`);
      return true;
    });
  });

  test('a fatal ends the connection with its reason; a bad frame closes only its own connection', async () => {
    const s = await echoServer(128);
    try {
      const pins = await tempFile('k');
      const a = await connect({ host: '127.0.0.1', port: s.port, encryption: 128, knownServersPath: pins });
      const b = await connect({ host: '127.0.0.1', port: s.port, encryption: 128, knownServersPath: pins });
      const closedA = new Promise<Error | undefined>((r) => (a.onClose = r));
      s.conns[0]!.close('maintenance');
      const err = await closedA;
      assert.ok(err instanceof MeshError && /maintenance/.test(err.message), String(err));
      // A client that sends a frame the server cannot decrypt loses its connection; b goes on.
      const raw = netConnect(s.port, '127.0.0.1');
      await new Promise((r) => raw.once('connect', r));
      raw.write(encodeFrame(clientOffer(128).payload));
      await new Promise((r) => raw.once('data', r)); // the server's hello
      const gone = new Promise((r) => raw.once('close', r));
      raw.write(encodeFrame(Buffer.from('not encrypted with the key')));
      await gone;
      assert.deepEqual(await ask(b, 'still'), { t: 'response', id: 1, ok: true, body: { method: 'still', body: 'x' } });
      b.close();
    } finally {
      await s.close();
    }
  });
});
