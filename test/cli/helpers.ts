// Shared by the atefs CLI tests: run the real bin/atefs as a child process, in a temporary data
// directory, and clean up every mount and process afterwards.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const ATEFS = fileURLToPath(new URL('../../../bin/atefs', import.meta.url));

/** Whether the filesystem is built (tests that mount need it). */
export const FS_BUILT = existsSync(fileURLToPath(new URL('../../src/fs/index.js', import.meta.url)));
export const FUSE_USABLE = existsSync('/dev/fuse');
export const skipMount = !FS_BUILT ? 'the filesystem (src/fs) is not built yet' : !FUSE_USABLE ? 'no /dev/fuse here' : false;

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Sandbox {
  readonly root: string;
  readonly data: string;
  readonly env: NodeJS.ProcessEnv;
  /** A new empty directory under the sandbox. */
  dir(name: string): Promise<string>;
  /** Runs atefs to completion. */
  run(args: string[], env?: NodeJS.ProcessEnv, timeoutMs?: number): Promise<Result>;
  /** Starts a foreground mount; resolves once its summary line is out. */
  mount(args: string[], env?: NodeJS.ProcessEnv): Promise<Mount>;
  /** Remembers a process to kill at the end (a daemon, say). */
  track(pid: number): void;
}

export interface Mount {
  readonly child: ChildProcess;
  readonly summary: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
}

/**
 * The environment of a test run: no passcode, data or config directory from the caller's (pinned
 * server keys included: an ephemeral port reused by another test's atedb has another identity).
 */
function baseEnv(root: string, data: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_DATA_HOME: data, XDG_CONFIG_HOME: join(root, 'config') };
  delete env['ATE_PASSCODE'];
  return env;
}

export async function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [ATEFS, ...args], { env, timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; signal?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Mount points (from /proc/self/mountinfo) under `root`. */
export async function mountsUnder(root: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p): p is string => !!p && (p === root || p.startsWith(`${root}/`)));
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountsUnder(path)).includes(path);
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `fn` in a fresh sandbox; afterwards kills what it started, removes its mounts and files. */
export async function withSandbox(fn: (s: Sandbox) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'atefs-cli-test-'));
  const data = join(root, 'data');
  const env = baseEnv(root, data);
  const children: ChildProcess[] = [];
  const pids: number[] = [];
  const sandbox: Sandbox = {
    root,
    data,
    env,
    dir: async (name) => {
      const d = join(root, name);
      await mkdir(d, { recursive: true });
      return d;
    },
    run: (args, extra = {}, timeoutMs) => run(args, { ...env, ...extra }, timeoutMs),
    mount: async (args, extra = {}) => {
      const child = spawn(process.execPath, [ATEFS, 'mount', ...args], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
      let ended: number | string | undefined;
      void exited.then((c) => (ended = c));
      await waitFor(() => /mounted at/.test(out) || ended !== undefined, 60_000, 'the summary line');
      if (ended !== undefined) assert.fail(`atefs mount ended with ${ended} before mounting:\n${out}${err}`);
      return { child, summary: out.trim(), stdout: () => out, stderr: () => err, exited };
    },
    track: (pid) => pids.push(pid),
  };
  try {
    await fn(sandbox);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const m of (await mountsUnder(root)).reverse()) {
      await execFileAsync('fusermount', ['-uz', m]).catch(() => undefined);
    }
    await rm(root, { recursive: true, force: true });
  }
}

/** Checks that a failed command said exactly one line, without a stack trace. */
export function assertOneLine(r: Result, code: number, pattern: RegExp): void {
  const lines = r.stderr.trim().split('\n');
  assert.equal(r.code, code, `exit code ${r.code}, stderr:\n${r.stderr}`);
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^atefs: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}
