// atedb --auth against a real auth server (both real processes): the root key of a personal
// chain is its owner's sign key (user.advert), that of a group chain the group's delegate key
// (group.details); unknown users and groups are refused.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, decodeKey, generateSignKey, issueToken, parseToken, type ServerMessage } from '../../src/core/index.js';
import { readMasterKeys } from '../../src/server/auth/master-keys.js';
import { totp } from '../../src/server/auth/totp.js';
import { type AuthSandbox, startAtedb, totpSecretOf, withAuthServer } from './helpers.js';

const PASSWORD = 'correct horse battery';

/** The first answer of atedb to a subscribe. */
async function subscribe(s: AuthSandbox, port: number, chain: string, token?: string): Promise<ServerMessage> {
  const conn = await connect({ host: '127.0.0.1', port, encryption: 128, knownServersPath: join(s.root, 'known_servers') });
  try {
    return await new Promise<ServerMessage>((resolve, reject) => {
      conn.onMessage = (msg) => resolve(msg);
      conn.onClose = (e) => reject(e ?? new Error('closed'));
      conn.send({ t: 'subscribe', chain, from: 0, ...(token !== undefined ? { token } : {}) });
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
    const { port } = await startAtedb(s);

    const token = sudo.stdout.trim();
    const personal = await subscribe(s, port, '/example.com/joe/notes', token);
    assert.ok(rootKeyBytes(personal).equals(Buffer.from(session.user.writeKeys[0]!.publicKey)), "the chain's root is joe's sign key");

    const nobody = await subscribe(s, port, '/example.com/nobody/notes', token);
    assert.equal(nobody.t, 'refused');
    assert.match((nobody as { message: string }).message, /no user nobody@example.com is known/);

    assert.equal((await s.atefs(['group', 'create', 'team', '--token', sudo.stdout.trim()])).code, 0);
    const gathered = await s.atefs(['token', 'gather', 'team', '--token', sudo.stdout.trim()]);
    const delegate = parseToken(gathered.stdout).claims.session.groups.find((g) => g.name === 'team')!.roles.find((r) => r.purpose === 'delegate')!;
    const group = await subscribe(s, port, '/team', gathered.stdout.trim());
    assert.ok(rootKeyBytes(group).equals(Buffer.from(delegate.writeKeys[0]!.publicKey)), "the group chain's root is the delegate key");

    const missing = await subscribe(s, port, '/ghosts', token);
    assert.equal(missing.t, 'refused');
    assert.match((missing as { message: string }).message, /group ghosts does not exist/);
  }));

const refusal = (msg: ServerMessage): string => {
  assert.equal(msg.t, 'refused', JSON.stringify(msg).slice(0, 300));
  assert.equal((msg as { code: string }).code, 'denied');
  return (msg as { message: string }).message;
};

test('atedb --auth checks the token of every subscribe: missing, expired, forged, foreign, another user, no role', { timeout: 180_000 }, () =>
  withAuthServer(async (s) => {
    for (const who of ['joe', 'ann']) assert.equal((await s.atefs(['user', 'create', `${who}@example.com`], { ATE_PASSWORD: PASSWORD })).code, 0);
    const joe = (await s.atefs(['token', 'generate', 'joe@example.com'], { ATE_PASSWORD: PASSWORD })).stdout.trim();
    const ann = (await s.atefs(['token', 'generate', 'ann@example.com'], { ATE_PASSWORD: PASSWORD })).stdout.trim();
    const { port } = await startAtedb(s);
    const chain = '/example.com/joe/notes';

    assert.equal((await subscribe(s, port, chain, joe)).t, 'start');
    assert.match(refusal(await subscribe(s, port, chain)), /needs a token: this server checks access with the auth server at tcp:\/\/127\.0\.0\.1:\d+/);
    assert.match(refusal(await subscribe(s, port, chain, ann)), /^ann@example.com has no access to \/example.com\/joe\/notes: it is joe@example.com's chain$/);

    const master = await readMasterKeys(s.keyPath);
    const session = parseToken(joe).claims.session;
    const expired = issueToken(session, master.write, { now: Date.now() - 2 * 86_400_000, validForMs: 86_400_000 });
    assert.match(refusal(await subscribe(s, port, chain, expired)), /^the token expired on \d{4}-/);
    const flipped = Buffer.from(joe.slice('ate-token:'.length), 'base64url');
    const at = flipped.length - 100;
    flipped[at] = flipped[at]! ^ 1;
    assert.match(refusal(await subscribe(s, port, chain, `ate-token:${flipped.toString('base64url')}`)), /signature does not verify/);
    const foreign = issueToken(session, generateSignKey('ml-dsa-65'));
    assert.match(refusal(await subscribe(s, port, chain, foreign)), /issued by another auth server/);
    assert.match(refusal(await subscribe(s, port, chain, 'not a token')), /the token is malformed/);

    // A group chain: only a token that holds one of the group's current role keys.
    const created = await s.atefs(['user', 'create', 'own@example.com'], { ATE_PASSWORD: PASSWORD });
    const code = totp(totpSecretOf(created.stdout), Date.now());
    const sudo = (await s.atefs(['token', 'sudo', 'own@example.com', PASSWORD, code])).stdout.trim();
    assert.equal((await s.atefs(['group', 'create', 'team', '--token', sudo])).code, 0);
    assert.match(refusal(await subscribe(s, port, '/team', ann)), /^ann@example.com has no access to \/team: the token holds none of the current keys of group team/);
    const gathered = (await s.atefs(['token', 'gather', 'team', '--token', sudo])).stdout.trim();
    assert.equal((await subscribe(s, port, '/team', gathered)).t, 'start');
  }));
