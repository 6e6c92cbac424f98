// Shared by the server tests (and the client tests): start real bin/atedb processes on 127.0.0.1,
// talk to them with a small protocol client, make events with a local chain.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, type Socket, connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Chain,
  ChainBuilder,
  type ClientMessage,
  type ServerMessage,
  type WireConnection,
  type WireEncryption,
  connect,
} from '../../src/core/index.js';

export const ATEDB = fileURLToPath(new URL('../../../bin/atedb', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];

/** Kills every server, closes every client and removes every directory the helpers made; runs after each test file. */
export async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
}
after(cleanup);

export async function tempDir(prefix = 'atedb-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** A port that was free a moment ago (for meshes, whose servers must know each other's ports). */
/**
 * A port free now, for a server told its port before it starts (a --servers list). Taken below
 * the kernel's ephemeral range (32768-60999 here): a port from that range can be handed to some
 * outgoing connection of a parallel test before the server binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise((r) => s.close(r));
    return port;
  }
}

export interface AtedbProcess {
  readonly port: number;
  readonly logsPath: string;
  /** The same as logsPath. */
  readonly logs: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  stdout(): string;
  stderr(): string;
  /** SIGTERM (or another signal), then waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  /** Arguments after `solo <logs-path>`; default: --no-auth. `-l 127.0.0.1 -p 0` are added unless given. */
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Default: a new temporary directory. */
  readonly logsPath?: string;
  /** The same as logsPath. */
  readonly logs?: string;
  /** The port to listen on (default 0: any free one), unless args name one. */
  readonly port?: number;
  readonly timeoutMs?: number;
}

/** Starts `atedb solo` and resolves once it printed its listening line. */
export async function startAtedb(opts: StartOptions = {}): Promise<AtedbProcess> {
  const logsPath = opts.logsPath ?? opts.logs ?? (await tempDir());
  const args = [...(opts.args ?? ['--no-auth'])];
  if (!args.includes('-l') && !args.includes('--listen')) args.push('-l', '127.0.0.1');
  if (!args.includes('-p') && !args.includes('--port')) args.push('-p', String(opts.port ?? 0));
  const child = spawn(process.execPath, [ATEDB, 'solo', logsPath, ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  cleanups.push(kill);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`atedb did not start in time:\n${out}${err}`)), opts.timeoutMs ?? 30_000);
    const check = (): void => {
      const m = /^atedb listening on .*:(\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`atedb exited with ${code} before listening:\n${out}${err}`));
    });
  });
  return {
    port,
    logsPath,
    logs: logsPath,
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The name the client tests use. */
export type Atedb = AtedbProcess;

/** A protocol client that records what the server sends and lets a test wait for it. */
export class TestClient {
  readonly received: ServerMessage[] = [];
  closedWith: Error | undefined | null = null;
  private waiters: (() => void)[] = [];
  private nextCommit = 1;

  private constructor(readonly wire: WireConnection<ServerMessage, ClientMessage>) {
    wire.onMessage = (m) => {
      this.received.push(m);
      this.wake();
    };
    wire.onClose = (err) => {
      this.closedWith = err;
      this.wake();
    };
  }

  static async connect(port: number, opts: { encryption?: WireEncryption; knownServersPath?: string } = {}): Promise<TestClient> {
    const wire = await connect({
      host: '127.0.0.1',
      port,
      encryption: opts.encryption ?? 0,
      knownServersPath: opts.knownServersPath ?? join(await tempDir('atedb-pins-'), 'known_servers'),
    });
    const client = new TestClient(wire);
    cleanups.push(async () => wire.close());
    return client;
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  send(msg: ClientMessage): void {
    this.wire.send(msg);
  }

  /** Waits until `find` returns something for the messages so far (or the connection closes). */
  async waitFor<T>(find: (msgs: readonly ServerMessage[]) => T | undefined, timeoutMs = 20_000, what = 'a message'): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = find(this.received);
      if (found !== undefined) return found;
      if (this.closed) assert.fail(`connection closed while waiting for ${what}: ${this.closedWith?.message ?? 'closed'}`);
      const left = end - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}; got ${JSON.stringify(this.received.map((m) => m.t))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Subscribes and waits for the end of history: the events and the start message. */
  async subscribe(chain: string, from = 0, epoch?: string): Promise<{ start: Extract<ServerMessage, { t: 'start' }>; events: Uint8Array[]; end: number }> {
    const before = this.received.length;
    this.send({ t: 'subscribe', chain, from, ...(epoch !== undefined ? { epoch } : {}) });
    const msgs = await this.waitFor((m) => {
      const mine = m.slice(before);
      const refused = mine.find((x) => x.t === 'refused');
      if (refused) assert.fail(`subscribe to ${chain} refused: ${JSON.stringify(refused)}`);
      return mine.some((x) => x.t === 'end') ? mine : undefined;
    }, 30_000, `the history of ${chain}`);
    const start = msgs.find((x) => x.t === 'start') as Extract<ServerMessage, { t: 'start' }>;
    const endAt = msgs.findIndex((x) => x.t === 'end');
    const events = msgs.slice(0, endAt).flatMap((x) => (x.t === 'events' ? x.evts : []));
    return { start, events, end: (msgs[endAt] as Extract<ServerMessage, { t: 'end' }>).seq };
  }

  /** The refusal of a subscribe. */
  async refusal(chain: string): Promise<Extract<ServerMessage, { t: 'refused' }>> {
    const before = this.received.length;
    this.send({ t: 'subscribe', chain, from: 0 });
    return this.waitFor((m) => m.slice(before).find((x) => x.t === 'refused') as Extract<ServerMessage, { t: 'refused' }> | undefined, 20_000, 'a refusal');
  }

  /** Uploads events as one commit; resolves with 'confirmed' or the commitError message. */
  async commit(evts: readonly Uint8Array[]): Promise<string> {
    const commit = this.nextCommit++;
    this.send({ t: 'events', commit, evts });
    const answer = await this.waitFor(
      (m) => m.find((x) => (x.t === 'confirmed' || x.t === 'commitError') && x.commit === commit),
      30_000,
      `the answer to commit ${commit}`,
    );
    return answer.t === 'confirmed' ? 'confirmed' : (answer as { message: string }).message;
  }

  /** Every live event received after the end of history, in order. */
  liveEvents(): { seq: number; bytes: Uint8Array }[] {
    const end = this.received.findIndex((x) => x.t === 'end');
    return this.received.slice(end + 1).flatMap((x) => (x.t === 'events' ? x.evts.map((bytes, i) => ({ seq: x.seq + i, bytes })) : []));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A local in-memory chain to make events with (no root keys: anyone may create root objects). */
export async function localChain(key: string): Promise<Chain> {
  const builder = new ChainBuilder({ signIntervalMs: 0 }).temporal();
  const chain = await builder.open(key);
  cleanups.push(() => builder.close());
  return chain;
}

/** The bytes of a chain's events from position `from` on (after its signatures are written). */
export async function eventsOf(chain: Chain, from = 0): Promise<Uint8Array[]> {
  await chain.sync();
  const out: Uint8Array[] = [];
  for await (const e of chain.history()) out.push(Uint8Array.from(e));
  return out.slice(from);
}

/** Short ids of events, sorted: the server orders a proof before the events it releases, so compare as sets. */
export const ids = (evts: readonly Uint8Array[]): string[] => evts.map((e) => createHash('sha256').update(e).digest('hex').slice(0, 16)).sort();

/** A loopback proxy that records every byte that passes, both ways (to see what travels in the clear). */
export async function recordingProxy(target: number): Promise<{ port: number; bytes: () => Buffer; close: () => void }> {
  const seen: Buffer[] = [];
  const sockets: Socket[] = [];
  const server = createServer((inbound) => {
    const outbound = netConnect(target, '127.0.0.1');
    sockets.push(inbound, outbound);
    inbound.on('data', (d: Buffer) => seen.push(d));
    outbound.on('data', (d: Buffer) => seen.push(d));
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    bytes: () => Buffer.concat(seen),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
