// Shared by the auth tests: a real bin/auth-server on 127.0.0.1 with a free port, in a temporary
// directory, and bin/atefs run as a child process against it; everything is killed and removed
// afterwards.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const AUTH_SERVER = fileURLToPath(new URL('../../../bin/auth-server', import.meta.url));
export const ATEFS = fileURLToPath(new URL('../../../bin/atefs', import.meta.url));
export const ATEDB = fileURLToPath(new URL('../../../bin/atedb', import.meta.url));

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a bin/ command to completion with `input` on its standard input (closed after it). */
export function runBin(bin: string, args: string[], env: NodeJS.ProcessEnv, input = '', timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(input);
  });
}

export interface AuthSandbox {
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  readonly keyPath: string;
  /** tcp://127.0.0.1:<port> of the running auth server. */
  readonly url: string;
  /** Runs atefs with --auth <url> in front (unless args give --auth or --no-auth). */
  atefs(args: string[], env?: NodeJS.ProcessEnv, input?: string): Promise<Result>;
  /** Starts another auth server (its own keys and logs); killed at the end. */
  startServer(name: string): Promise<string>;
  track(child: ChildProcess): void;
}

/** The environment of a test run: nothing from the caller's auth settings. */
function baseEnv(root: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: join(root, 'config'), XDG_DATA_HOME: join(root, 'data'), HOME: root };
  for (const k of ['ATE_TOKEN', 'ATE_PASSWORD', 'ATE_CODE', 'ATE_PASSCODE']) delete env[k];
  return env;
}

/** Starts bin/auth-server run on a free port; resolves with its URL once it listens. */
export async function startAuthServer(dir: string, env: NodeJS.ProcessEnv, track: (c: ChildProcess) => void): Promise<string> {
  const keyPath = join(dir, 'auth.key');
  const gen = await runBin(AUTH_SERVER, ['generate', keyPath], env);
  assert.equal(gen.code, 0, gen.stderr);
  const child = spawn(process.execPath, [AUTH_SERVER, 'run', keyPath, join(dir, 'logs'), '-l', '127.0.0.1', '-p', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const end = Date.now() + 30_000;
  while (!/auth-server listening on 127\.0\.0\.1:(\d+)/.test(out)) {
    if (child.exitCode !== null || Date.now() > end) assert.fail(`auth-server did not start:\n${out}${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return `tcp://127.0.0.1:${/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]}`;
}

export async function withAuthServer(fn: (s: AuthSandbox) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'ate-auth-test-'));
  const env = baseEnv(root);
  const children: ChildProcess[] = [];
  const track = (c: ChildProcess): void => void children.push(c);
  try {
    const url = await startAuthServer(join(root, 'auth'), env, track);
    await fn({
      root,
      env,
      keyPath: join(root, 'auth', 'auth.key'),
      url,
      atefs: (args, extra = {}, input = '') => runBin(ATEFS, [...(args.includes('--auth') || args.includes('--no-auth') ? [] : ['--auth', url]), ...args], { ...env, ...extra }, input),
      startServer: (name) => startAuthServer(join(root, name), env, track),
      track,
    });
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
}

/** A failed command said exactly one line (no stack trace) and exited non-zero. */
export function assertOneLine(r: Result, pattern: RegExp, name = 'atefs'): void {
  const lines = r.stderr.trim().split('\n');
  assert.notEqual(r.code, 0, `expected a failure, stdout:\n${r.stdout}`);
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^${name}: `));
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

/** The TOTP secret that atefs user create printed. */
export function totpSecretOf(createOutput: string): Uint8Array {
  const b32 = /^secret: ([A-Z2-7]+)$/m.exec(createOutput)?.[1];
  assert.ok(b32, `no secret in:\n${createOutput}`);
  return fromBase32(b32);
}

/** RFC 4648 base32 (no padding) to bytes. */
export function fromBase32(s: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const out = new Uint8Array(Math.floor(bits.length / 8));
  for (let i = 0; i < out.length; i++) out[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return out;
}

/** Starts bin/atedb solo --auth <the sandbox's auth server> on a free port, its logs in <root>/atedb. */
export async function startAtedb(s: AuthSandbox): Promise<{ port: number; logs: string }> {
  const logs = join(s.root, 'atedb');
  const child = spawn(process.execPath, [ATEDB, '--auth', s.url, 'solo', logs, '-l', '127.0.0.1', '-p', '0'], { env: s.env, stdio: ['ignore', 'pipe', 'pipe'] });
  s.track(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const end = Date.now() + 30_000;
  while (!/atedb listening on 127\.0\.0\.1:(\d+)/.test(out)) {
    if (child.exitCode !== null || Date.now() > end) assert.fail(`atedb did not start:\n${out}${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port: Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]), logs };
}
