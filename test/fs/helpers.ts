// Test helpers: a chain in a temp dir, a real FUSE mount over it, and ways to touch the mount
// from child processes (the process that serves a mount must never block on it).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChainBuilder,
  type Chain,
  type ReaderKey,
  type SymmetricKey,
  type PrivateSignKey,
  generateSignKey,
  generateSymmetricKey,
  publicSignKey,
  userSession,
  type AteSession,
} from '../../src/core/index.js';
import { type MountedFs, type MountOptions, mountFs } from '../../src/fs/index.js';

const mounted = new Set<string>();
let exitHook = false;

function hookExit(): void {
  if (exitHook) return;
  exitHook = true;
  // Last resort: never leave a mount behind (a lazy unmount needs no answer from this process).
  process.on('exit', () => {
    for (const m of mounted) {
      try {
        execFileSync('fusermount', ['-uz', m], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });
}

export interface Keys {
  vault: SymmetricKey;
  writer: PrivateSignKey;
}

export function newKeys(): Keys {
  return { vault: generateSymmetricKey(), writer: generateSignKey() };
}

export interface Fixture {
  dir: string;
  logPath: string;
  mnt: string;
  keys: Keys;
  session: AteSession;
  builder: ChainBuilder;
  chain: Chain;
  fs: MountedFs;
  /** Unmounts, closes the chain. */
  stop(): Promise<void>;
  /** Unmounts, closes, reopens the chain from its log and mounts again (same mount point). */
  remount(): Promise<void>;
  /** Everything, temp dir included. */
  cleanup(): Promise<void>;
}

export async function openChain(logPath: string, keys: Keys): Promise<{ builder: ChainBuilder; chain: Chain; session: AteSession }> {
  const session = userSession({ readKeys: [keys.vault], writeKeys: [keys.writer] });
  const builder = new ChainBuilder({ logPath }).addRootPublicKey(publicSignKey(keys.writer)).setSession(session);
  const chain = await builder.open('vault');
  return { builder, chain, session };
}

export async function mountFixture(opts: Partial<MountOptions> = {}, name = 'atefs'): Promise<Fixture> {
  hookExit();
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  const logPath = join(dir, 'log');
  const mnt = join(dir, 'mnt');
  await mkdir(mnt);
  const keys = newKeys();
  const rootReaders: ReaderKey[] = [{ kind: 'symmetric', key: keys.vault }];
  const fx = {} as Fixture;
  const start = async (): Promise<void> => {
    const { builder, chain, session } = await openChain(logPath, keys);
    fx.builder = builder;
    fx.chain = chain;
    fx.session = session;
    fx.fs = await mountFs({ mountPoint: mnt, chain, session, rootReaders, log: () => undefined, ...opts });
    mounted.add(mnt);
  };
  let live = false;
  Object.assign(fx, {
    dir,
    logPath,
    mnt,
    keys,
    async stop() {
      if (!live) return;
      live = false;
      try {
        await fx.fs.unmount();
      } finally {
        mounted.delete(mnt);
        await fx.builder.close();
      }
    },
    async remount() {
      await fx.stop();
      await start();
      live = true;
    },
    async cleanup() {
      await fx.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  });
  await start();
  live = true;
  return fx;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in a child process (never blocking this one). */
export function sh(script: string, opts: { cwd?: string; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((done) => {
    const child = execFile(
      'bash',
      ['-c', script],
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        done({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command and fails with its output unless it exits 0. */
export async function shOk(script: string, opts: Parameters<typeof sh>[1] = {}): Promise<string> {
  const r = await sh(script, opts);
  if (r.code !== 0) throw new Error(`command failed (${r.code}): ${script}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Runs a python3 script in a child process; its stdout is parsed as JSON. */
export async function py<T = unknown>(code: string, args: string[] = [], timeoutMs = 60_000): Promise<T> {
  return new Promise((done, failed) => {
    const child = spawn('python3', ['-c', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return failed(new Error(`python3 exited ${code}: ${err}`));
      try {
        done(JSON.parse(out) as T);
      } catch {
        failed(new Error(`python3 printed no JSON: ${out}\n${err}`));
      }
    });
  });
}

export async function have(tool: string): Promise<boolean> {
  return (await sh(`command -v ${tool}`)).code === 0;
}
