// The network benchmark (issue 5, "Speed"): atedb on loopback against nats-server with JetStream
// file storage, in the same run, with the same payloads. Not a test: nothing here asserts time.
//
//   node dist/scripts/bench-net.js [--duration 10] [--events 1000000] [--clients 8] [--rate 5000]
//                                  [--skip tput,latency,catchup,dio,raw,nats]
//                                  [--prof-dir DIR]   (CPU profiles: DIR/atedb and DIR/clients)
//
// The parent starts one atedb (`solo --no-auth`) and one `nats-server -js`, then forks every
// client as a child process of this script (--worker TASK), so that clients and servers compete
// for the cores as separate processes would. Workloads:
// - throughput: each client commits 1 KiB events in batches of 50 (8 batches in flight) to its
//   own chain (nats: its own stream) for --duration seconds; events confirmed in that time count.
//   "dio" clients are real replicas: RemoteChain + Dio scope 'full' (local durable write, then the
//   server's confirmed). "raw" clients send events pre-built by a local chain straight over the
//   wire (the server validates and stores them all the same): the server's side alone.
// - latency: the same clients paced to --rate events/s in total (a batch every 10 ms across
//   clients at the defaults), open loop; time from commit() to confirmed.
// - catch-up: --events events uploaded raw to one chain, then a new client streams them into a
//   new replica (RemoteChain.open until synced), and a bare stream that only counts them.
// Events are unsigned: a personal chain of `atedb --no-auth` has no root key, so Dio writes root
// objects without signatures (the default for this setup). The wire is AES-128-GCM (RemoteChain's
// default); nats runs without TLS.
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NatsConnection, StorageType, connect as natsConnect } from 'nats';
import {
  ChainBuilder,
  Dio,
  RemoteChain,
  type ServerMessage,
  type ClientMessage,
  type WireConnection,
  connect,
  userSession,
} from '../src/core/index.js';
import { positive, scriptArgs } from './args.js';

const values = scriptArgs(
  'node dist/scripts/bench-net.js [--duration 10] [--events 1000000] [--clients 8] [--rate 5000] [--skip tput,latency,catchup,dio,raw,nats] [--prof-dir DIR]',
  {
    duration: { type: 'string', default: '10' },
    events: { type: 'string', default: '1000000' },
    clients: { type: 'string', default: '8' },
    rate: { type: 'string', default: '5000' },
    skip: { type: 'string', default: '' },
    'prof-dir': { type: 'string' },
    worker: { type: 'string' },
  },
);

const BATCH = 50;
const PAYLOAD = 1024;
/** Batches in flight per client in the throughput test (RemoteChain's uploader allows 64). */
const IN_FLIGHT = 8;
/**
 * Events a raw client pre-builds; when it has sent them all it goes on with a new chain, on a new
 * connection (one chain per connection). Large enough that the handshake (ML-KEM and X25519 in
 * JS, a few ms of the server's thread) is rare in the timed window, as it is for a real client.
 */
const RAW_POOL = 50_000;
/** Events per upload commit when building the catch-up chain (the server's batch limit is 2,000). */
const BUILD_COMMIT = 1000;
const CATCHUP_CHAIN = '/example.com/catchup/db';
const session = userSession({});

type Mode = { readonly kind: 'max' } | { readonly kind: 'paced'; readonly intervalMs: number; readonly offsetMs: number };
type Task =
  | { readonly role: 'dio' | 'raw'; readonly port: number; readonly chain: string; readonly dir: string; readonly seconds: number; readonly mode: Mode }
  | { readonly role: 'nats'; readonly url: string; readonly subject: string; readonly seconds: number; readonly mode: Mode }
  | { readonly role: 'build' | 'replica' | 'stream'; readonly port: number; readonly dir: string; readonly events: number }
  | { readonly role: 'nats-build' | 'nats-read'; readonly url: string; readonly events: number };
interface Result {
  /** Events confirmed within the timed window (or caught up). */
  readonly events: number;
  readonly ms: number;
  /** Per commit: ms from commit() to confirmed. */
  readonly latencies: number[];
  /** CPU this client used in the timed window (all threads), ms. */
  readonly cpuMs?: number;
}

const now = (): number => performance.timeOrigin + performance.now();
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const payload = (i: number): Buffer => {
  const b = Buffer.allocUnsafe(PAYLOAD).fill(i & 0xff);
  b.writeUInt32BE(i >>> 0, 0);
  return b;
};

// ---------------------------------------------------------------------------------------------
// Clients (worker processes)

/** 1 KiB events made by a local in-memory chain (one per call: each event is new to the server). */
async function makeEvents(n: number): Promise<Uint8Array[]> {
  const builder = new ChainBuilder({ signIntervalMs: 0 }).temporal();
  const chain = await builder.open('/example.com/maker/db');
  const out: Uint8Array[] = [];
  chain.onEvent((event) => void out.push(event.bytes));
  for (let i = 0; i < n; i += 100) {
    const dio = new Dio(chain, session, 'none');
    for (let j = i; j < Math.min(n, i + 100); j++) dio.store(payload(j));
    await dio.commit();
  }
  await builder.close();
  return out;
}

/** A bare wire-protocol client on one chain: commits resolve on confirmed. */
class RawClient {
  private nextCommit = 1;
  private readonly answers = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private synced!: () => void;

  private constructor(
    private readonly wire: WireConnection<ServerMessage, ClientMessage>,
    /** Told the size of every events message (history and live). */
    private readonly onEvents: (n: number) => void,
  ) {}

  static async open(port: number, chain: string, dir: string, onEvents: (n: number) => void = () => undefined): Promise<RawClient> {
    const wire = await connect({ host: '127.0.0.1', port, encryption: 128, knownServersPath: join(dir, 'known_servers') });
    const client = new RawClient(wire, onEvents);
    const synced = new Promise<void>((resolve) => (client.synced = resolve));
    wire.onMessage = (m) => client.received(m);
    wire.onClose = (err) => {
      for (const a of client.answers.values()) a.reject(err ?? new Error('closed'));
    };
    wire.send({ t: 'subscribe', chain, from: 0 });
    await synced;
    return client;
  }

  commit(evts: readonly Uint8Array[]): Promise<void> {
    const commit = this.nextCommit++;
    this.wire.send({ t: 'events', commit, evts });
    return new Promise((resolve, reject) => this.answers.set(commit, { resolve, reject }));
  }

  close(): void {
    this.wire.close();
  }

  private received(m: ServerMessage): void {
    if (m.t === 'events') this.onEvents(m.evts.length);
    else if (m.t === 'end') this.synced();
    else if (m.t === 'confirmed' || m.t === 'commitError') {
      const a = this.answers.get(m.commit);
      this.answers.delete(m.commit);
      if (m.t === 'confirmed') a?.resolve();
      else a?.reject(new Error(`commit refused: ${m.message}`));
    } else if (m.t === 'refused') throw new Error(`subscribe refused: ${m.message}`);
  }
}

/**
 * Runs `commit` (one batch of BATCH events, resolving once confirmed) from `go` for `seconds`:
 * IN_FLIGHT at a time as fast as they confirm, or one every intervalMs whether or not the
 * previous ones confirmed (open loop: a slow confirmation does not lower the offered load).
 */
async function drive(commit: () => Promise<void>, mode: Mode, go: number, seconds: number): Promise<Result> {
  const end = go + seconds * 1000;
  const latencies: number[] = [];
  let events = 0;
  const timed = async (): Promise<void> => {
    const t = now();
    await commit();
    const done = now();
    latencies.push(done - t);
    if (done <= end) events += BATCH;
  };
  await sleepUntil(go);
  const cpu = process.cpuUsage();
  let cpuMs = 0;
  setTimeout(() => {
    const used = process.cpuUsage(cpu);
    cpuMs = (used.user + used.system) / 1000;
  }, end - now());
  if (mode.kind === 'max') {
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (now() < end) await timed();
    }));
  } else {
    const started: Promise<void>[] = [];
    for (let at = go + mode.offsetMs; at < end; at += mode.intervalMs) {
      await sleepUntil(at);
      started.push(timed());
    }
    await Promise.all(started);
  }
  await sleepUntil(end + 1);
  return { events, ms: seconds * 1000, latencies, cpuMs };
}

const sleepUntil = (t: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, t - now())));

/** The throughput and latency clients: set up, say ready, wait for go, drive, report. */
async function timedClient(task: Extract<Task, { role: 'dio' | 'raw' | 'nats' }>): Promise<Result> {
  let commit: () => Promise<void>;
  if (task.role === 'nats') commit = await natsCommitter(task.url, task.subject);
  else if (task.role === 'dio') commit = await dioCommitter(task.port, task.chain, task.dir);
  else commit = await rawCommitter(task.port, task.chain, task.dir);
  const go = await ready();
  return drive(commit, task.mode, go, task.seconds);
}

async function dioCommitter(port: number, chain: string, dir: string): Promise<() => Promise<void>> {
  const builder = new ChainBuilder({ logPath: dir }).setSession(session);
  const remote = await RemoteChain.open(builder, `tcp://127.0.0.1:${port}${chain}`, { recovery: 'async', knownServersPath: join(dir, 'known_servers') });
  let n = 0;
  return async () => {
    const dio = new Dio(remote.chain, session, 'full');
    for (let i = 0; i < BATCH; i++) dio.store(payload(n++));
    await dio.commit();
  };
}

/** Sends a pool of pre-built events; once sent, the same pool goes to a fresh chain (new there). */
async function rawCommitter(port: number, chain: string, dir: string): Promise<() => Promise<void>> {
  const pool = await makeEvents(RAW_POOL);
  let pass = 0;
  let at = 0;
  let client = await RawClient.open(port, `${chain}${pass}`, dir);
  let switching: Promise<void> | undefined;
  return async () => {
    while (at + BATCH > pool.length) {
      switching ??= RawClient.open(port, `${chain}${++pass}`, dir).then((c) => {
        client = c;
        at = 0;
        switching = undefined;
      });
      await switching;
    }
    await client.commit(pool.slice(at, (at += BATCH)));
  };
}

async function natsCommitter(url: string, subject: string): Promise<() => Promise<void>> {
  const js = (await natsConnect({ servers: url })).jetstream();
  let n = 0;
  return async () => {
    await Promise.all(Array.from({ length: BATCH }, () => js.publish(subject, payload(n++))));
  };
}

/** Uploads `events` new events to the catch-up chain, raw: BUILD_COMMIT per commit, 20 commits in flight. */
async function buildChain(port: number, dir: string, events: number): Promise<Result> {
  const client = await RawClient.open(port, CATCHUP_CHAIN, dir);
  const start = now();
  for (let done = 0; done < events; ) {
    const evts = await makeEvents(Math.min(20 * BUILD_COMMIT, events - done));
    const commits: Promise<void>[] = [];
    for (let i = 0; i < evts.length; i += BUILD_COMMIT) commits.push(client.commit(evts.slice(i, i + BUILD_COMMIT)));
    await Promise.all(commits);
    done += evts.length;
  }
  client.close();
  return { events, ms: now() - start, latencies: [] };
}

/** A new replica (empty directory) of the catch-up chain: opened once it holds the whole chain. */
async function catchUpReplica(port: number, dir: string, events: number): Promise<Result> {
  const start = now();
  const builder = new ChainBuilder({ logPath: dir }).setSession(session);
  const remote = await RemoteChain.open(builder, `tcp://127.0.0.1:${port}${CATCHUP_CHAIN}`, { recovery: 'async', knownServersPath: join(dir, 'known_servers') });
  const ms = now() - start;
  if (remote.chain.count !== events) throw new Error(`the replica holds ${remote.chain.count} events, not ${events}`);
  return { events, ms, latencies: [] };
}

/** The same stream without a replica: what the server and the wire deliver. */
async function catchUpStream(port: number, dir: string, events: number): Promise<Result> {
  const start = now();
  let received = 0;
  const client = await RawClient.open(port, CATCHUP_CHAIN, dir, (n) => (received += n));
  const ms = now() - start;
  client.close();
  if (received !== events) throw new Error(`the stream brought ${received} events, not ${events}`);
  return { events, ms, latencies: [] };
}

async function natsBuild(url: string, events: number): Promise<Result> {
  const nc = await natsConnect({ servers: url });
  const js = nc.jetstream();
  const start = now();
  for (let i = 0; i < events; i += BUILD_COMMIT) {
    const acks: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(events, i + BUILD_COMMIT); j++) acks.push(js.publish('catchup', payload(j)));
    await Promise.all(acks);
  }
  await nc.close();
  return { events, ms: now() - start, latencies: [] };
}

/** An ordered consumer (nats' way to replay a stream into a client) reading the whole stream. */
async function natsRead(url: string, events: number): Promise<Result> {
  const start = now();
  const nc = await natsConnect({ servers: url });
  const consumer = await nc.jetstream().consumers.get('catchup');
  const messages = await consumer.consume();
  let n = 0;
  for await (const _ of messages) if (++n === events) break;
  const ms = now() - start;
  await nc.close();
  return { events: n, ms, latencies: [] };
}

/** Tells the parent this client is set up; resolves with the start time it sends back. */
function ready(): Promise<number> {
  return new Promise((resolve) => {
    process.once('message', (m: { go: number }) => resolve(m.go));
    process.send!({ ready: true });
  });
}

async function worker(task: Task): Promise<void> {
  let result: Result;
  switch (task.role) {
    case 'dio':
    case 'raw':
    case 'nats':
      result = await timedClient(task);
      break;
    case 'build':
      result = await buildChain(task.port, task.dir, task.events);
      break;
    case 'replica':
      result = await catchUpReplica(task.port, task.dir, task.events);
      break;
    case 'stream':
      result = await catchUpStream(task.port, task.dir, task.events);
      break;
    case 'nats-build':
      result = await natsBuild(task.url, task.events);
      break;
    case 'nats-read':
      result = await natsRead(task.url, task.events);
      break;
  }
  process.send!({ result }, () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// The parent: servers, phases, table

interface Server {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Spawns a server and resolves once `listening` matches its output (group 1: the port). */
function startServer(cmd: string, args: readonly string[], listening: RegExp, url: (port: number) => string): Promise<Server> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let out = '';
  return new Promise((resolve, reject) => {
    const check = (d: Buffer): void => {
      out += d.toString();
      const m = listening.exec(out);
      if (!m) return;
      const port = Number(m[1]);
      resolve({ url: url(port), port, pid: child.pid!, stop: async () => void (child.kill('SIGTERM'), await exited) });
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code} before listening:\n${out}`)));
  });
}

function startAtedb(logs: string, profDir: string | undefined): Promise<Server> {
  const atedb = fileURLToPath(new URL('../src/cli/atedb.js', import.meta.url));
  const prof = profDir ? ['--cpu-prof', '--cpu-prof-dir', join(profDir, 'atedb')] : [];
  return startServer(process.execPath, [...prof, atedb, 'solo', logs, '-l', '127.0.0.1', '-p', '0', '--no-auth'], /^atedb listening on .*:(\d+)$/m, (p) => `tcp://127.0.0.1:${p}`);
}

function startNats(store: string): Promise<Server> {
  if (spawnSync('nats-server', ['--version']).error) throw new Error('nats-server is not installed: apt-get install -y nats-server (or --skip nats)');
  // -p -1: any free port; the log line tells which.
  return startServer('nats-server', ['-js', '-sd', store, '-a', '127.0.0.1', '-p', '-1'], /Listening for client connections on [^:]+:(\d+)/, (p) => `nats://127.0.0.1:${p}`);
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Forks one worker per task; timed workers start together once all are set up (`onGo` is told when). */
function runWorkers(tasks: readonly Task[], onGo: (go: number) => void): Promise<Result[]> {
  const script = fileURLToPath(import.meta.url);
  const profDir = values['prof-dir'];
  const execArgv = profDir ? ['--cpu-prof', '--cpu-prof-dir', join(profDir, 'clients')] : [];
  const children: ChildProcess[] = tasks.map((t) => fork(script, ['--worker', JSON.stringify(t)], { stdio: 'inherit', execArgv }));
  let ready = 0;
  return Promise.all(
    children.map(
      (child, i) =>
        new Promise<Result>((resolve, reject) => {
          child.on('message', (m: { ready?: true; result?: Result }) => {
            if (m.result) resolve(m.result);
            else if (++ready === children.length) {
              // A little ahead, so that every client's go arrives before it is due.
              const go = now() + 200;
              for (const c of children) c.send({ go });
              onGo(go);
            }
          });
          child.once('exit', (code) => reject(new Error(`the ${tasks[i]!.role} worker exited with ${code}`)));
        }),
    ),
  );
}

interface Phase {
  readonly results: Result[];
  /** Cores the server kept busy: during the timed window, or the whole phase for untimed ones. */
  readonly cores: number;
}

async function phase(server: Server, tasks: readonly Task[]): Promise<Phase> {
  let from = { cpu: cpuSeconds(server.pid), at: now() };
  let to: typeof from | undefined;
  const results = await runWorkers(tasks, (go) => {
    const seconds = (tasks[0] as { seconds: number }).seconds;
    setTimeout(() => (from = { cpu: cpuSeconds(server.pid), at: now() }), go - now());
    setTimeout(() => (to = { cpu: cpuSeconds(server.pid), at: now() }), go + seconds * 1000 - now());
  });
  to ??= { cpu: cpuSeconds(server.pid), at: now() };
  return { results, cores: (to.cpu - from.cpu) / ((to.at - from.at) / 1000) };
}

const rateOf = (p: Phase): number => p.results.reduce((n, r) => n + r.events, 0) / (Math.max(...p.results.map((r) => r.ms)) / 1000);

function percentile(p: Phase, q: number): number {
  const all = p.results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return all[Math.min(all.length - 1, Math.floor(q * all.length))]!;
}

async function main(): Promise<void> {
  const seconds = positive('duration', values.duration);
  const events = positive('events', values.events);
  const clients = positive('clients', values.clients);
  const rate = positive('rate', values.rate);
  const skip = new Set(values.skip!.split(',').filter(Boolean));
  const dir = await mkdtemp(join(tmpdir(), 'bench-net-'));
  const load = loadavg()[0]!.toFixed(1);
  console.log(`bench-net: ${clients} clients, ${seconds} s per timed phase, ${fmt(rate)} ev/s offered for latency, catch-up of ${fmt(events)} events; load average ${load}`);
  const servers: Server[] = [];
  try {
    const atedb = await startAtedb(join(dir, 'atedb'), values['prof-dir']);
    servers.push(atedb);
    const nats = skip.has('nats') ? undefined : await startNats(join(dir, 'nats'));
    if (nats) servers.push(nats);
    const js = nats ? await natsConnect({ servers: nats.url }) : undefined;
    const paced = (i: number): Mode => {
      const intervalMs = ((clients * BATCH) / rate) * 1000;
      return { kind: 'paced', intervalMs, offsetMs: (i * intervalMs) / clients };
    };
    const ours = (role: 'dio' | 'raw', name: string, mode: (i: number) => Mode): Promise<Phase> =>
      phase(atedb, Array.from({ length: clients }, (_, i) => ({ role, port: atedb.port, chain: `/example.com/${name}${i}/${role === 'raw' ? 'p' : 'db'}`, dir: join(dir, `${name}${i}`), seconds, mode: mode(i) })));
    const theirs = async (name: string, mode: (i: number) => Mode): Promise<Phase> => {
      for (let i = 0; i < clients; i++) await stream(js!, `${name}${i}`);
      return phase(nats!, Array.from({ length: clients }, (_, i) => ({ role: 'nats', url: nats!.url, subject: `${name}${i}`, seconds, mode: mode(i) })));
    };
    const max = (): Mode => ({ kind: 'max' });

    const m = new Map<string, Phase>();
    const run = async (key: string, enabled: boolean, p: () => Promise<Phase>): Promise<void> => {
      if (!enabled) return;
      m.set(key, await p());
      console.log(`  ${key}: done (${new Date().toTimeString().slice(0, 8)})`);
    };
    const tput = !skip.has('tput');
    await run('tput dio', tput && !skip.has('dio'), () => ours('dio', 'tput', max));
    await run('tput raw', tput && !skip.has('raw'), () => ours('raw', 'traw', max));
    await run('tput nats', tput && !!nats, () => theirs('tput', max));
    const latency = !skip.has('latency');
    await run('lat dio', latency && !skip.has('dio'), () => ours('dio', 'lat', paced));
    await run('lat raw', latency && !skip.has('raw'), () => ours('raw', 'lraw', paced));
    await run('lat nats', latency && !!nats, () => theirs('lat', paced));
    const catchup = !skip.has('catchup');
    await run('build ours', catchup, () => phase(atedb, [{ role: 'build', port: atedb.port, dir: join(dir, 'build'), events }]));
    await run('catch dio', catchup && !skip.has('dio'), () => phase(atedb, [{ role: 'replica', port: atedb.port, dir: join(dir, 'replica'), events }]));
    await run('catch raw', catchup && !skip.has('raw'), () => phase(atedb, [{ role: 'stream', port: atedb.port, dir: join(dir, 'stream'), events }]));
    if (catchup && nats) await stream(js!, 'catchup');
    await run('build nats', catchup && !!nats, () => phase(nats!, [{ role: 'nats-build', url: nats!.url, events }]));
    await run('catch nats', catchup && !!nats, () => phase(nats!, [{ role: 'nats-read', url: nats!.url, events }]));
    await js?.close();
    report(m, { clients, rate, events, load });
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One JetStream stream with file storage, its subject named like it. */
async function stream(nc: NatsConnection, name: string): Promise<void> {
  await (await nc.jetstreamManager()).streams.add({ name, subjects: [name], storage: StorageType.File });
}

function report(m: Map<string, Phase>, o: { clients: number; rate: number; events: number; load: string }): void {
  const cell = (key: string, f: (p: Phase) => number, unit: string): string => (m.has(key) ? `${f(m.get(key)!) < 100 ? f(m.get(key)!).toFixed(1) : fmt(f(m.get(key)!))} ${unit}` : '-');
  const ratio = (a: string, b: string, f: (p: Phase) => number): string => (m.has(a) && m.has(b) ? (f(m.get(a)!) / f(m.get(b)!)).toFixed(2) : '-');
  const p50 = (p: Phase): number => percentile(p, 0.5);
  const p99 = (p: Phase): number => percentile(p, 0.99);
  const rows: [string, string, (p: Phase) => number, string, string][] = [
    [`throughput, ${o.clients} clients, batches of ${BATCH}`, 'tput', rateOf, 'ev/s', '>= 50,000 ev/s'],
    [`p50 to confirmed at ${fmt(o.rate)} ev/s offered`, 'lat', p50, 'ms', ''],
    [`p99 to confirmed at ${fmt(o.rate)} ev/s offered`, 'lat', p99, 'ms', '<= 20 ms'],
    [`catch-up of ${fmt(o.events)} events (ours: replica / stream only)`, 'catch', rateOf, 'ev/s', '>= 200,000 ev/s'],
  ];
  console.log(`\nload average at the end ${loadavg()[0]!.toFixed(1)} (start ${o.load})\n`);
  console.log('| workload | ours: RemoteChain + Dio | ours: raw pre-built events | nats JetStream | ratio Dio/nats | ratio raw/nats | target |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [label, key, f, unit, target] of rows) {
    console.log(`| ${label} | ${cell(`${key} dio`, f, unit)} | ${cell(`${key} raw`, f, unit)} | ${cell(`${key} nats`, f, unit)} | ${ratio(`${key} dio`, `${key} nats`, f)} | ${ratio(`${key} raw`, `${key} nats`, f)} | ${target} |`);
  }
  console.log('\nCPU (server: cores busy in the timed window, or the whole phase; clients: all of them, per event):');
  for (const [key, p] of m) {
    const rate = rateOf(p);
    const clientMs = p.results.reduce((n, r) => n + (r.cpuMs ?? 0), 0);
    const clients = clientMs > 0 ? `, clients ${((clientMs * 1000) / (rate * (p.results[0]!.ms / 1000))).toFixed(0)} us/event` : '';
    console.log(`  ${key}: server ${p.cores.toFixed(2)} cores, ${((p.cores * 1e6) / rate).toFixed(0)} us/event${clients} (${fmt(rate)} ev/s)`);
  }
}

if (values.worker !== undefined) await worker(JSON.parse(values.worker) as Task);
else {
  await main().catch((err: unknown) => {
    console.error(`bench-net: ${(err as Error)?.message ?? String(err)}`);
    process.exit(1);
  });
}
