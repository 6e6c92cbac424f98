// The auth commands as a user runs them: bin/auth-server on 127.0.0.1 and bin/atefs as child
// processes, scripted (arguments, ATE_PASSWORD, ATE_CODE, standard input), bad input included.
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { issueToken, parseToken } from '../../src/core/index.js';
import { readMasterKeys } from '../../src/server/auth/master-keys.js';
import { totp } from '../../src/server/auth/totp.js';
import { AUTH_SERVER, assertOneLine, runBin, totpSecretOf, withAuthServer } from './helpers.js';

const PASSWORD = 'correct horse battery';

test('auth-server generate writes owner-only keys and never replaces them; run refuses a missing key file', () =>
  withAuthServer(async (s) => {
    assert.equal((await stat(s.keyPath)).mode & 0o777, 0o600);
    assertOneLine(await runBin(AUTH_SERVER, ['generate', s.keyPath], s.env), /already exists/, 'auth-server');
    assertOneLine(await runBin(AUTH_SERVER, ['run', join(s.root, 'nope.key'), join(s.root, 'l'), '-p', '0'], s.env), /does not exist; create the master keys with auth-server generate/, 'auth-server');
  }));

test('user create, token generate and token view, scripted; bad input gets one line each', { timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    const created = await s.atefs(['user', 'create', 'joe@example.com'], { ATE_PASSWORD: PASSWORD });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /user joe@example.com created \(uid \d+\)/);
    assert.match(created.stdout, /otpauth:\/\/totp\/ATE:joe%40example.com\?secret=[A-Z2-7]+/);
    assert.match(created.stdout, /[█▀▄]{20}/, 'a QR code');

    assertOneLine(await s.atefs(['create-user', 'joe@example.com'], { ATE_PASSWORD: PASSWORD }), /a user with the email joe@example.com already exists/);
    assertOneLine(await s.atefs(['user', 'create', 'joe@'], { ATE_PASSWORD: PASSWORD }), /"joe@" is not an email address/);
    assertOneLine(await s.atefs(['user', 'create', 'ann@example.com'], { ATE_PASSWORD: 'short' }), /the password is too short/);

    // The password on standard input; the token to a file with mode 0600.
    const out = join(s.root, 'token');
    const gen = await s.atefs(['create-token', 'joe@example.com', '--out', out], {}, `${PASSWORD}\n`);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stderr, /token for joe@example.com written to .*token \(valid until \d{4}-/);
    assert.equal((await stat(out)).mode & 0o777, 0o600);

    const viewed = await s.atefs(['token', 'view', '--token-path', out]);
    assert.equal(viewed.code, 0, viewed.stderr);
    assert.match(viewed.stdout, /user: +joe@example.com \(uid \d+\)/);
    assert.match(viewed.stdout, /sudo: +no/);

    // To standard output, valid for a day.
    const printed = await s.atefs(['token', 'generate', 'joe@example.com', PASSWORD, '--valid-for', '1d']);
    assert.equal(printed.code, 0, printed.stderr);
    const claims = parseToken(printed.stdout).claims;
    assert.ok(Math.abs(claims.expiresAt - claims.issuedAt - 86_400_000) < 1000);

    assertOneLine(await s.atefs(['token', 'generate', 'joe@example.com'], { ATE_PASSWORD: 'wrong horse battery' }), /^atefs: wrong email or password$/);
    assertOneLine(await s.atefs(['token', 'generate', 'who@example.com'], { ATE_PASSWORD: PASSWORD }), /^atefs: wrong email or password$/);
    assertOneLine(await s.atefs(['token', 'generate', 'joe@example.com']), /give the password: ATE_PASSWORD=/);
  }));

test('failed logins lock the account for a while, right password included', { timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    assert.equal((await s.atefs(['user', 'create', 'kim@example.com'], { ATE_PASSWORD: PASSWORD })).code, 0);
    for (let i = 0; i < 5; i++) assertOneLine(await s.atefs(['token', 'generate', 'kim@example.com'], { ATE_PASSWORD: `guess number ${i}` }), /wrong email or password/);
    assertOneLine(await s.atefs(['token', 'generate', 'kim@example.com'], { ATE_PASSWORD: PASSWORD }), /too many failed logins for kim@example.com; try again in \d+ s/);
  }));

test('sudo needs the right authenticator code', { timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    const created = await s.atefs(['user', 'create', 'ann@example.com'], { ATE_PASSWORD: PASSWORD });
    const secret = totpSecretOf(created.stdout);
    const code = totp(secret, Date.now());
    const wrong = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
    assertOneLine(await s.atefs(['token', 'sudo', 'ann@example.com', '--code', wrong], { ATE_PASSWORD: PASSWORD }), /wrong authenticator code/);
    // Password and code on standard input, one per line.
    const out = join(s.root, 'sudo.token');
    const r = await s.atefs(['token', 'sudo', 'ann@example.com', '--out', out], {}, `${PASSWORD}\n${code}\n`);
    assert.equal(r.code, 0, r.stderr);
    const viewed = await s.atefs(['token', 'view', '--token-path', out]);
    assert.match(viewed.stdout, /sudo: +yes/);
  }));

test('malformed, expired, foreign and forged tokens, and an unreachable server: one line each', { timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    assert.equal((await s.atefs(['user', 'create', 'eve@example.com'], { ATE_PASSWORD: PASSWORD })).code, 0);
    const good = (await s.atefs(['token', 'generate', 'eve@example.com'], { ATE_PASSWORD: PASSWORD })).stdout.trim();
    const file = join(s.root, 'bad.token');

    await writeFile(file, 'this is not a token\n', { mode: 0o600 });
    assertOneLine(await s.atefs(['token', 'view', '--token-path', file]), /bad\.token: the token is malformed/);
    assertOneLine(await s.atefs(['token', 'view', '--token-path', join(s.root, 'missing')]), /the token file .*missing does not exist/);

    const master = await readMasterKeys(s.keyPath);
    const session = parseToken(good).claims.session;
    const expired = issueToken(session, master.write, { now: Date.now() - 2 * 86_400_000, validForMs: 86_400_000 });
    assertOneLine(await s.atefs(['token', 'view'], { ATE_TOKEN: expired }), /ATE_TOKEN: the token expired on/);
    assertOneLine(await s.atefs(['user', 'details', '--token', expired]), /--token: the token expired on/);

    const flipped = Buffer.from(good.slice('ate-token:'.length), 'base64url');
    const at = flipped.length - 100;
    flipped[at] = flipped[at]! ^ 1;
    assertOneLine(await s.atefs(['token', 'view', '--token', `ate-token:${flipped.toString('base64url')}`]), /signature does not verify: it was altered or forged/);

    const otherUrl = await s.startServer('other');
    assertOneLine(await s.atefs(['token', 'view', '--token', good, '--auth', otherUrl]), /issued by another auth server .* not by the auth server at tcp:\/\/127\.0\.0\.1:\d+/);

    assertOneLine(await s.atefs(['token', 'view', '--token', good, '--auth', 'tcp://127.0.0.1:1']), /cannot reach the auth server at 127\.0\.0\.1:1 \(connection refused\)/);
    assertOneLine(await s.atefs(['token', 'generate', 'eve@example.com', '--auth', 'http://x'], { ATE_PASSWORD: PASSWORD }), /is not an auth server URL/);
    assertOneLine(await s.atefs(['--no-auth', 'token', 'view', '--token', good]), /talks to an auth server; drop --no-auth/);
  }));

test('groups: create with a sudo token, add a contributor who gathers, remove them (their keys rotate away)', { timeout: 180_000 }, () =>
  withAuthServer(async (s) => {
    const created = await s.atefs(['user', 'create', 'own@example.com'], { ATE_PASSWORD: PASSWORD });
    assert.equal((await s.atefs(['user', 'create', 'pal@example.com'], { ATE_PASSWORD: PASSWORD })).code, 0);
    const sudo = join(s.root, 'own.sudo');
    const plain = join(s.root, 'own.token');
    const pal = join(s.root, 'pal.token');
    const code = totp(totpSecretOf(created.stdout), Date.now());
    assert.equal((await s.atefs(['token', 'sudo', 'own@example.com', PASSWORD, code, '--out', sudo])).code, 0);
    assert.equal((await s.atefs(['token', 'generate', 'own@example.com', '--out', plain], { ATE_PASSWORD: PASSWORD })).code, 0);
    assert.equal((await s.atefs(['token', 'generate', 'pal@example.com', '--out', pal], { ATE_PASSWORD: PASSWORD })).code, 0);

    assertOneLine(await s.atefs(['group', 'create', 'team', '--token-path', plain]), /needs a sudo token/);
    const made = await s.atefs(['--token-path', sudo, 'group', 'create', 'team']);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /group team created \(gid \d+\)/);
    assertOneLine(await s.atefs(['group', 'create', 'team', '--token-path', sudo]), /group team already exists/);
    assertOneLine(await s.atefs(['group', 'create', '../x', '--token-path', sudo]), /is not a group name/);

    assertOneLine(await s.atefs(['group', 'add-user', 'team', 'contributor', 'pal@example.com', '--token-path', pal]), /needs its delegate role/);
    assertOneLine(await s.atefs(['group', 'add-user', 'team', 'janitor', 'pal@example.com', '--token-path', plain]), /"janitor" is not a role/);
    const added = await s.atefs(['group', 'add-user', 'team', 'contributor', 'pal@example.com', '--token-path', plain]);
    assert.equal(added.code, 0, added.stderr);

    const gathered = join(s.root, 'pal.team.token');
    const g = await s.atefs(['token', 'gather', 'team', '--token-path', pal, '--out', gathered]);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stderr, /roles contributor, observer of group team/);
    assert.match((await s.atefs(['token', 'view', '--token-path', gathered])).stdout, /group: +team \(gid \d+\): contributor, observer/);

    const ownerTeam = join(s.root, 'own.team.token');
    assert.equal((await s.atefs(['token', 'gather', '/team', '--token-path', sudo, '--out', ownerTeam])).code, 0);
    const details = await s.atefs(['group', 'details', 'team', '--token-path', ownerTeam]);
    assert.equal(details.code, 0, details.stderr);
    assert.match(details.stdout, /contributor +sign [0-9a-f-]+ +read [0-9a-f-]+ +members: pal@example.com/);
    assert.match((await s.atefs(['group', 'details', 'team'])).stdout, /members are shown to owners and delegates/);

    const removed = await s.atefs(['group', 'remove-user', 'team', 'contributor', 'pal@example.com', '--token-path', plain]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /new keys for contributor, observer/);
    assertOneLine(await s.atefs(['token', 'gather', 'team', '--token-path', pal]), /pal@example.com holds no role in group team/);
    assertOneLine(await s.atefs(['token', 'gather', 'team', '--token-path', gathered]), /holds no role in group team/);
    assertOneLine(await s.atefs(['group', 'details', 'nosuch']), /group nosuch does not exist/);
  }));
