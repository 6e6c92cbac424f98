// Clients and real atedb processes on 127.0.0.1: replicas syncing, offline writes, restarts,
// a mesh of three servers, concurrent writers, locks and pinned server identities.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChainBuilder,
  Dio,
  type PrimaryKey,
  ReadOnlyError,
  RemoteChain,
  type RecoveryMode,
  generateSignKey,
  publicSignKey,
  userSession,
} from '../../src/core/index.js';
import { type Atedb, freePort, startAtedb } from '../server/helpers.js';
import { tempDir } from '../core/chain/fixtures.js';

const writer = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(21));
const session = userSession({ writeKeys: [writer] });
const servers: Atedb[] = [];
after(async () => {
  for (const s of servers) await s.stop('SIGKILL').catch(() => undefined);
});

async function server(args: string[] = [], opts: { port?: number; logs?: string } = {}): Promise<Atedb> {
  const s = await startAtedb({ args: ['--no-auth', ...args], ...opts });
  servers.push(s);
  return s;
}

interface Client {
  remote: RemoteChain;
  dir: string;
}

async function client(url: string, opts: { recovery?: RecoveryMode; dir?: string; knownServersPath?: string; encryption?: 0 | 128 } = {}): Promise<Client> {
  const dir = opts.dir ?? (await tempDir('ate-replica-'));
  const builder = new ChainBuilder({ logPath: dir, signIntervalMs: 5 }).setSession(session);
  const remote = await RemoteChain.open(builder, url, {
    recovery: opts.recovery ?? 'async',
    encryption: opts.encryption ?? 128,
    knownServersPath: opts.knownServersPath ?? join(dir, 'known_servers'),
    onWarning: () => undefined,
  });
  return { remote, dir };
}

/** Stores one object per value, writable by `writer` only (so its events travel signed). */
async function store(c: Client, values: readonly unknown[], scope: 'local' | 'full' = 'local'): Promise<PrimaryKey[]> {
  const dio = new Dio(c.remote.chain, session, scope);
  const keys = values.map((v) => dio.store(v, { writers: [publicSignKey(writer)] }).key);
  await dio.commit();
  return keys;
}

async function update(c: Client, key: PrimaryKey, value: unknown): Promise<void> {
  const dio = new Dio(c.remote.chain, session);
  const dao = await dio.load(key);
  dao.value = value;
  dao.commit();
  await dio.commit();
}

async function valueOf(c: Client, key: PrimaryKey): Promise<unknown> {
  const dio = new Dio(c.remote.chain, session);
  return dio.exists(key) ? (await dio.load(key)).value : undefined;
}

/** Polls until `check` holds (replication is asynchronous), failing after `ms`. */
async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(25);
  }
}

test('two clients sync: history on open, live updates both ways, resume after a reconnect', async () => {
  const db = await server();
  const url = `tcp://127.0.0.1:${db.port}/example.com/joe/notes`;
  const a = await client(url);
  const keys = await store(a, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  await a.remote.uploaded();

  const b = await client(url);
  for (const [i, k] of keys.entries()) assert.deepEqual(await valueOf(b, k), { n: i + 1 }, 'history streamed on open');

  await update(b, keys[0]!, { n: 10 });
  await eventually('a sees b', async () => ((await valueOf(a, keys[0]!)) as { n: number })?.n === 10);
  const [fromA] = await store(a, [{ live: true }]);
  await eventually('b sees a', async () => (await valueOf(b, fromA!)) !== undefined);

  // b goes away, a writes, b comes back on the same replica and resumes.
  await b.remote.close();
  const [meanwhile] = await store(a, [{ meanwhile: true }]);
  await a.remote.uploaded();
  const b2 = await client(url, { dir: b.dir });
  await b2.remote.whenSynced();
  assert.deepEqual(await valueOf(b2, meanwhile!), { meanwhile: true });
  assert.deepEqual(await valueOf(b2, keys[0]!), { n: 10 });
  const count = a.remote.chain.count;
  await a.remote.close();
  await b2.remote.close();
  // The server sent a none of its own events back; its confirmations moved its resume position past them.
  const state = JSON.parse(await readFile(join(a.dir, 'example.com', 'joe', 'notes.sync'), 'utf8')) as { next: number };
  assert.equal(state.next, count, 'a resumes after the last event, its own included');
});

test('a long history streams to a new replica in full (the sequential read of the log)', async () => {
  const db = await server();
  const url = `tcp://127.0.0.1:${db.port}/example.com/joe/long`;
  const a = await client(url);
  const keys: PrimaryKey[] = [];
  for (let i = 0; i < 6; i++) keys.push(...(await store(a, Array.from({ length: 500 }, (_, j) => ({ n: i * 500 + j })))));
  await a.remote.uploaded();
  const b = await client(url);
  assert.equal(b.remote.chain.count, a.remote.chain.count, 'every event, proofs included');
  for (const [n, k] of keys.entries()) assert.deepEqual(await valueOf(b, k), { n });
  await a.remote.close();
  await b.remote.close();
});

test('offline writes: async mode keeps them and uploads them on reconnect; read-only modes refuse them', async () => {
  const db = await server();
  const url = `tcp://127.0.0.1:${db.port}/example.com/joe/offline`;
  const a = await client(url, { recovery: 'async' });
  const ro = await client(url, { recovery: 'readonly-async' });
  const [k] = await store(a, [{ v: 'online' }]);
  await a.remote.uploaded();
  await db.stop('SIGTERM');
  await eventually('both notice', () => !a.remote.connected && !ro.remote.connected);

  await update(a, k!, { v: 'offline' });
  const [made] = await store(a, [{ made: 'offline' }]);
  await assert.rejects(store(ro, [{ v: 'refused' }]), ReadOnlyError);
  assert.ok(a.remote.pendingUploads > 0);

  const again = await server([], { port: db.port, logs: db.logs });
  await eventually('a reconnects and uploads', () => a.remote.connected && a.remote.pendingUploads === 0);
  const fresh = await client(`tcp://127.0.0.1:${again.port}/example.com/joe/offline`);
  assert.deepEqual(await valueOf(fresh, k!), { v: 'offline' });
  assert.deepEqual(await valueOf(fresh, made!), { made: 'offline' });
  await eventually('the read-only client reconnects and sees them', async () => (await valueOf(ro, made!)) !== undefined);
  for (const c of [a, ro, fresh]) await c.remote.close();
});

test('atedb killed and restarted mid-load: clients reconnect and no confirmed commit is lost', async () => {
  const db = await server();
  const url = `tcp://127.0.0.1:${db.port}/example.com/joe/load`;
  const a = await client(url, { recovery: 'async' });
  const confirmed: { key: PrimaryKey; n: number }[] = [];
  let stop = false;
  const load = (async () => {
    for (let n = 0; !stop; n++) {
      const dio = new Dio(a.remote.chain, session, 'full');
      const key = dio.store({ n }).key;
      try {
        await dio.commit();
        // Confirmed while connected; a commit made offline is only durable locally.
        if (a.remote.connected && a.remote.pendingUploads === 0) confirmed.push({ key, n });
      } catch {
        // The connection dropped before the server confirmed: not counted.
      }
    }
  })();
  await eventually('some commits confirmed', () => confirmed.length >= 20);
  await db.stop('SIGKILL');
  const atKill = confirmed.length;
  await sleep(200);
  await server([], { port: db.port, logs: db.logs });
  await eventually('writes confirmed again after the restart', () => a.remote.connected && confirmed.length > atKill + 20);
  stop = true;
  await load;
  await a.remote.uploaded();

  const check = await client(url, { recovery: 'readonly-sync' });
  for (const { key, n } of confirmed) assert.deepEqual(await valueOf(check, key), { n }, `confirmed commit ${n} survives`);
  await a.remote.close();
  await check.remote.close();
});

test('three servers share 100 chains: every chain lives on exactly one of them, and clients find it', async () => {
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const list = ports.map((p) => `127.0.0.1:${p}`).join(',');
  // Plain connections: 100 encrypted handshakes (one ML-DSA signature each) would only measure the CPU.
  const mesh = await Promise.all(ports.map((port) => server(['--servers', list, '--listen-as', `127.0.0.1:${port}`, '--no-wire-encryption'], { port })));
  const names = Array.from({ length: 100 }, (_, i) => `/example.com/joe/db${i}`);
  for (let i = 0; i < names.length; i += 10) {
    await Promise.all(
      names.slice(i, i + 10).map(async (name) => {
        const c = await client(`tcp://${list}${name}`, { encryption: 0 });
        await store(c, [{ name }]);
        await c.remote.uploaded();
        await c.remote.close();
      }),
    );
  }
  const hosted = await Promise.all(mesh.map(async (s) => new Set(await readdir(join(s.logs, 'example.com', 'joe')).catch(() => []))));
  for (const [i, name] of names.entries()) {
    const holders = hosted.filter((h) => h.has(`db${i}.log`)).length;
    assert.equal(holders, 1, `${name} is stored on exactly one server`);
  }
  assert.ok(hosted.every((h) => h.size > 0), 'every server hosts some chains');
});

test('concurrent writers of one object converge through the server', async () => {
  const db = await server();
  const url = `tcp://127.0.0.1:${db.port}/example.com/joe/race`;
  const a = await client(url, { recovery: 'async' });
  const b = await client(url, { recovery: 'async' });
  const [k] = await store(a, [{ v: 'start' }]);
  await a.remote.uploaded();
  await eventually('b has it', async () => (await valueOf(b, k!)) !== undefined);
  await Promise.all([update(a, k!, { v: 'a' }), update(b, k!, { v: 'b' })]);
  await Promise.all([a.remote.uploaded(), b.remote.uploaded()]);
  await eventually('a and b agree', async () => JSON.stringify(await valueOf(a, k!)) === JSON.stringify(await valueOf(b, k!)));
  const c = await client(url);
  assert.deepEqual(await valueOf(c, k!), await valueOf(a, k!), 'a third replica agrees too');
  for (const x of [a, b, c]) await x.remote.close();
});

test('locks are held per connection and released when it drops', async () => {
  const db = await server();
  const url = `tcp://127.0.0.1:${db.port}/example.com/joe/locks`;
  const a = await client(url);
  const b = await client(url);
  const [k] = await store(a, [{ v: 1 }]);
  await a.remote.uploaded();
  assert.equal(await new Dio(a.remote.chain, session).lock(k!), true);
  assert.equal(await new Dio(b.remote.chain, session).lock(k!), false, 'held by a');
  await a.remote.close();
  await eventually('released when a disconnects', () => new Dio(b.remote.chain, session).lock(k!));
  await b.remote.close();
});

test('a server whose identity changed is refused with the pinned fingerprint named', async () => {
  const db = await server();
  const dir = await tempDir('ate-replica-');
  const known = join(dir, 'known_servers');
  const url = `tcp://127.0.0.1:${db.port}/example.com/joe/pinned`;
  const a = await client(url, { knownServersPath: known });
  await a.remote.close();
  await db.stop('SIGTERM');
  // Another server (another identity key) on the same address.
  await server([], { port: db.port });
  await assert.rejects(client(url, { knownServersPath: known }), (err: Error) => {
    assert.equal(err.name, 'ServerIdentityError');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${db.port}`));
    assert.match(err.message, /known_servers/);
    return true;
  });
});
