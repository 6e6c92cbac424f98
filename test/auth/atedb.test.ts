// atedb --auth against a real auth server (both real processes): the root key of a personal
// chain is its owner's sign key (user.advert), that of a group chain the group's delegate key
// (group.details); unknown users and groups are refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, decodeKey, parseToken, type ServerMessage } from '../../src/core/index.js';
import { totp } from '../../src/server/auth/totp.js';
import { type AuthSandbox, totpSecretOf, withAuthServer } from './helpers.js';

const ATEDB = fileURLToPath(new URL('../../../bin/atedb', import.meta.url));
const PASSWORD = 'correct horse battery';

async function startAtedb(s: AuthSandbox): Promise<number> {
  const child = spawn(process.execPath, [ATEDB, '--auth', s.url, 'solo', join(s.root, 'atedb'), '-l', '127.0.0.1', '-p', '0'], { env: s.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
  return Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]);
}

/** The first answer of atedb to a subscribe. */
async function subscribe(s: AuthSandbox, port: number, chain: string): Promise<ServerMessage> {
  const conn = await connect({ host: '127.0.0.1', port, encryption: 128, knownServersPath: join(s.root, 'known_servers') });
  try {
    return await new Promise<ServerMessage>((resolve, reject) => {
      conn.onMessage = (msg) => resolve(msg);
      conn.onClose = (e) => reject(e ?? new Error('closed'));
      conn.send({ t: 'subscribe', chain, from: 0 });
    });
  } finally {
    conn.close();
  }
}

const rootKeyBytes = (msg: ServerMessage): Buffer => {
  assert.equal(msg.t, 'start', JSON.stringify(msg).slice(0, 300));
  const k = decodeKey((msg as { rootKeys: readonly Uint8Array[] }).rootKeys[0]!);
  assert.equal(k.kind, 'sign-public');
  return Buffer.from((k as { key: { bytes: Uint8Array } }).key.bytes);
};

test('atedb --auth roots personal chains in the owner and group chains in the delegate', { timeout: 180_000 }, () =>
  withAuthServer(async (s) => {
    const created = await s.atefs(['user', 'create', 'joe@example.com'], { ATE_PASSWORD: PASSWORD });
    assert.equal(created.code, 0, created.stderr);
    const code = totp(totpSecretOf(created.stdout), Date.now());
    const sudo = await s.atefs(['token', 'sudo', 'joe@example.com', PASSWORD, code]);
    assert.equal(sudo.code, 0, sudo.stderr);
    const session = parseToken(sudo.stdout).claims.session;
    const port = await startAtedb(s);

    const personal = await subscribe(s, port, '/example.com/joe/notes');
    assert.ok(rootKeyBytes(personal).equals(Buffer.from(session.user.writeKeys[0]!.publicKey)), "the chain's root is joe's sign key");

    const nobody = await subscribe(s, port, '/example.com/nobody/notes');
    assert.equal(nobody.t, 'refused');
    assert.match((nobody as { message: string }).message, /no user nobody@example.com is known/);

    assert.equal((await s.atefs(['group', 'create', 'team', '--token', sudo.stdout.trim()])).code, 0);
    const gathered = await s.atefs(['token', 'gather', 'team', '--token', sudo.stdout.trim()]);
    const delegate = parseToken(gathered.stdout).claims.session.groups.find((g) => g.name === 'team')!.roles.find((r) => r.purpose === 'delegate')!;
    const group = await subscribe(s, port, '/team');
    assert.ok(rootKeyBytes(group).equals(Buffer.from(delegate.writeKeys[0]!.publicKey)), "the group chain's root is the delegate key");

    const missing = await subscribe(s, port, '/ghosts');
    assert.equal(missing.t, 'refused');
    assert.match((missing as { message: string }).message, /group ghosts does not exist/);
  }));
