// Login and create-user timings against a real auth server (bin/auth-server on 127.0.0.1, logs
// on disk), from this process (KDF + connection + requests) and through the atefs commands
// (process start included). Budgets (issue 6): login <= 1 s, create-user <= 2 s.
// Usage: node dist/scripts/bench-auth.js [--runs 5]
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_KDF, derivePasswordKey, newSalt } from '../src/core/index.js';
import { AuthClient } from '../src/cli/atefs/auth-client.js';

const run = promisify(execFile);
const bin = (name: string): string => fileURLToPath(new URL(`../../bin/${name}`, import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const PASSWORD = 'correct horse battery';

async function startServer(dir: string): Promise<{ url: string; child: ChildProcess }> {
  await run(process.execPath, [bin('auth-server'), 'generate', join(dir, 'auth.key')]);
  const child = spawn(process.execPath, [bin('auth-server'), 'run', join(dir, 'auth.key'), join(dir, 'logs'), '-l', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  while (!/listening on 127\.0\.0\.1:(\d+)/.test(out)) {
    if (child.exitCode !== null) throw new Error(`auth-server ended: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { url: `tcp://127.0.0.1:${/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]}`, child };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const ms = (v: number): string => `${Math.round(v)} ms`;
function summary(name: string, samples: number[], budget: number): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const max = sorted[sorted.length - 1]!;
  return `${name.padEnd(44)} median ${ms(median).padStart(8)}  max ${ms(max).padStart(8)}  budget ${ms(budget)}  ${max <= budget ? 'ok' : 'OVER'}`;
}

const root = await mkdtemp(join(tmpdir(), 'ate-bench-auth-'));
const { url, child } = await startServer(join(root, 'server'));
const env = { ...process.env, XDG_CONFIG_HOME: join(root, 'config') };
try {
  const kdf = await timed(() => derivePasswordKey(PASSWORD, newSalt(), DEFAULT_KDF));
  console.log(`scrypt N=2^16 r=8 p=1 (one run): ${ms(kdf)}`);
  const create: number[] = [];
  const login: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const email = `bench${i}@example.com`;
    // A fresh connection each time (handshake included), as a command has.
    create.push(
      await timed(async () => {
        const client = new AuthClient(url, 256);
        const salt = newSalt();
        const secret = await derivePasswordKey(PASSWORD, salt, DEFAULT_KDF);
        await client.createUser({ email, secret, salt, kdf: DEFAULT_KDF });
        client.close();
      }),
    );
    login.push(
      await timed(async () => {
        const client = new AuthClient(url, 256);
        const { salt, kdf: params } = await client.salt(email);
        const secret = await derivePasswordKey(PASSWORD, salt, params);
        await client.login({ email, secret });
        client.close();
      }),
    );
  }
  const cliCreate: number[] = [];
  const cliLogin: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const email = `cli${i}@example.com`;
    const e = { ...env, ATE_PASSWORD: PASSWORD };
    cliCreate.push(await timed(() => run(process.execPath, [bin('atefs'), '--auth', url, 'user', 'create', email], { env: e })));
    cliLogin.push(await timed(() => run(process.execPath, [bin('atefs'), '--auth', url, 'token', 'generate', email], { env: e })));
  }
  console.log(`${RUNS} runs each, ${new Date().toISOString()}`);
  console.log(summary('create-user (KDF + connect + request)', create, 2000));
  console.log(summary('login (KDF + connect + 2 requests)', login, 1000));
  console.log(summary('atefs user create (whole process)', cliCreate, 2000));
  console.log(summary('atefs token generate (whole process)', cliLogin, 1000));
} finally {
  child.kill('SIGTERM');
  await rm(root, { recursive: true, force: true });
}
