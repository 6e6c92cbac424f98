// The auth server's handlers called directly (no network), on in-memory chains: users, logins,
// sudo, rate limiting, groups, gathering and key rotation on removal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ChainBuilder,
  Dio,
  FAST_KDF_FOR_TESTS,
  MissingReadKeyError,
  decodeKey,
  derivePasswordKey,
  newSalt,
  parseToken,
  publicReadKey,
  type AteSession,
} from '../../src/core/index.js';
import { authContext, type AuthContext } from '../../src/server/auth/context.js';
import { generateMasterKeys } from '../../src/server/auth/master-keys.js';
import { AUTH_METHODS as M, type AdvertResponse, type DetailsResponse, type GatherResponse, type TokenResponse } from '../../src/server/auth/protocol.js';
import { authHandlers } from '../../src/server/auth/service.js';
import { AuthStore } from '../../src/server/auth/store.js';
import { totp } from '../../src/server/auth/totp.js';
import { fromBase32 } from './helpers.js';

interface Harness {
  ctx: AuthContext;
  call<T>(method: string, body: unknown): Promise<T>;
  clock: { now: number };
}

async function withServer(fn: (h: Harness) => Promise<void>): Promise<void> {
  const store = new AuthStore(generateMasterKeys(), undefined);
  const clock = { now: Date.now() };
  const ctx = authContext(store, { minKdf: FAST_KDF_FOR_TESTS, now: () => clock.now });
  const handlers = authHandlers(ctx) as Record<string, (b: unknown) => Promise<unknown>>;
  try {
    await fn({ ctx, clock, call: async <T>(m: string, b: unknown) => (await handlers[m]!(b)) as T });
  } finally {
    await store.close();
  }
}

interface User {
  email: string;
  password: string;
  totpSecret: Uint8Array;
}

async function secretFor(h: Harness, email: string, password: string): Promise<Uint8Array> {
  const { salt, kdf } = await h.call<{ salt: Uint8Array; kdf: typeof FAST_KDF_FOR_TESTS }>(M.salt, { email });
  return derivePasswordKey(password, salt, kdf);
}

async function createUser(h: Harness, email: string, password = 'correct horse battery'): Promise<User> {
  const salt = newSalt();
  const secret = await derivePasswordKey(password, salt, FAST_KDF_FOR_TESTS);
  const r = await h.call<{ uid: number; otpauth: string }>(M.createUser, { email, secret, salt, kdf: FAST_KDF_FOR_TESTS });
  assert.ok(r.uid >= 2 ** 31);
  const b32 = new URL(r.otpauth).searchParams.get('secret')!;
  return { email, password, totpSecret: fromBase32(b32) };
}

async function login(h: Harness, u: User, sudo = false): Promise<string> {
  const secret = await secretFor(h, u.email, u.password);
  const code = sudo ? totp(u.totpSecret, h.clock.now) : undefined;
  const r = await h.call<TokenResponse>(M.login, { email: u.email, secret, ...(code ? { code } : {}) });
  return r.token;
}

test('a user is created once, logs in with the right password only, and is rate limited after failures', () =>
  withServer(async (h) => {
    const joe = await createUser(h, 'Joe@Example.com');
    await assert.rejects(createUser(h, 'joe@example.com'), /a user with the email joe@example.com already exists/);
    await assert.rejects(createUser(h, 'not an email'), /is not an email address/);

    const token = await login(h, { ...joe, email: 'joe@example.com' });
    const claims = parseToken(token).claims;
    assert.equal(claims.session.user.identity, 'joe@example.com');
    assert.equal(claims.session.sudo, undefined);

    const wrong = await secretFor(h, joe.email, 'wrong password!!');
    await assert.rejects(h.call(M.login, { email: joe.email, secret: wrong }), /^AuthError: wrong email or password$/);
    const unknown = await secretFor(h, 'nobody@example.com', 'whatever password');
    await assert.rejects(h.call(M.login, { email: 'nobody@example.com', secret: unknown }), /^AuthError: wrong email or password$/);

    // Unknown emails get a stable salt, unlike a real account's, so salts reveal nothing.
    const s1 = await h.call<{ salt: Uint8Array }>(M.salt, { email: 'nobody@example.com' });
    const s2 = await h.call<{ salt: Uint8Array }>(M.salt, { email: 'nobody@example.com' });
    assert.ok(Buffer.from(s1.salt).equals(Buffer.from(s2.salt)));

    for (let i = 1; i < 5; i++) await assert.rejects(h.call(M.login, { email: joe.email, secret: wrong }), /wrong email or password/);
    const right = await secretFor(h, joe.email, joe.password);
    await assert.rejects(h.call(M.login, { email: joe.email, secret: right }), /too many failed logins for joe@example.com; try again in 30 s/);
    h.clock.now += 31_000;
    assert.ok((await h.call<TokenResponse>(M.login, { email: joe.email, secret: right })).token);
  }));

test('sudo needs the authenticator code, once per code', () =>
  withServer(async (h) => {
    const ann = await createUser(h, 'ann@example.com');
    const secret = await secretFor(h, ann.email, ann.password);
    const wrongCode = String((Number(totp(ann.totpSecret, h.clock.now)) + 1) % 1_000_000).padStart(6, '0');
    await assert.rejects(h.call(M.login, { email: ann.email, secret, code: wrongCode }), /wrong authenticator code/);
    const code = totp(ann.totpSecret, h.clock.now);
    const r = await h.call<TokenResponse>(M.login, { email: ann.email, secret, code });
    assert.ok(parseToken(r.token).claims.session.sudo);
    await assert.rejects(h.call(M.login, { email: ann.email, secret, code }), /was used already/);
  }));

test('the advert holds the public sign key that atedb roots personal chains with', () =>
  withServer(async (h) => {
    const bob = await createUser(h, 'bob@example.com');
    const advert = await h.call<AdvertResponse>(M.advert, { email: 'bob@example.com' });
    const key = decodeKey(advert.signKey);
    assert.equal(key.kind, 'sign-public');
    const session = parseToken(await login(h, bob)).claims.session;
    assert.ok(Buffer.from((key as { key: { bytes: Uint8Array } }).key.bytes).equals(Buffer.from(session.user.writeKeys[0]!.publicKey)));
    await assert.rejects(h.call(M.advert, { email: 'nobody@example.com' }), /no user nobody@example.com is known/);
  }));

test('groups: create with sudo, add a contributor who gathers, remove them and the keys rotate', () =>
  withServer(async (h) => {
    const owner = await createUser(h, 'owner@example.com');
    const friend = await createUser(h, 'friend@example.com');
    const plain = await login(h, owner);
    await assert.rejects(h.call(M.createGroup, { token: plain, group: 'team' }), /needs a sudo token/);
    const sudo = await login(h, owner, true);
    const created = await h.call<{ gid: number }>(M.createGroup, { token: sudo, group: '/team' });
    assert.ok(created.gid >= 3 * 2 ** 30);
    await assert.rejects(h.call(M.createGroup, { token: sudo, group: 'team' }), /group team already exists/);

    const ownerGathered = await h.call<GatherResponse>(M.gather, { token: sudo, group: 'team' });
    assert.deepEqual(ownerGathered.roles, ['owner', 'delegate', 'contributor', 'observer']);
    const plainGathered = await h.call<GatherResponse>(M.gather, { token: plain, group: 'team' });
    assert.deepEqual(plainGathered.roles, ['delegate', 'contributor', 'observer']);

    const friendToken = await login(h, friend);
    await assert.rejects(h.call(M.gather, { token: friendToken, group: 'team' }), /holds no role in group team/);
    await assert.rejects(h.call(M.addUser, { token: friendToken, group: 'team', role: 'contributor', email: friend.email }), /needs its delegate role/);
    await assert.rejects(h.call(M.addUser, { token: plain, group: 'team', role: 'owner', email: friend.email }), /needs its owner role.*sudo token/);
    await h.call(M.addUser, { token: plain, group: 'team', role: 'contributor', email: friend.email });
    await assert.rejects(h.call(M.addUser, { token: plain, group: 'team', role: 'contributor', email: friend.email }), /already a contributor/);
    const friendGathered = await h.call<GatherResponse>(M.gather, { token: friendToken, group: 'team' });
    assert.deepEqual(friendGathered.roles, ['contributor', 'observer']);

    const before = await h.call<DetailsResponse>(M.details, { group: '/team' });
    assert.equal(before.roles.find((r) => r.purpose === 'contributor')!.members, undefined, 'no members without a token');
    const withMembers = await h.call<DetailsResponse>(M.details, { group: 'team', token: plain });
    assert.deepEqual(withMembers.roles.find((r) => r.purpose === 'contributor')!.members, ['friend@example.com']);
    assert.deepEqual(decodeKey(before.delegateSignKey).kind, 'sign-public');

    const removed = await h.call<{ rotated: string[] }>(M.removeUser, { token: plain, group: 'team', role: 'contributor', email: friend.email });
    assert.deepEqual(removed.rotated, ['contributor', 'observer']);
    await assert.rejects(h.call(M.removeUser, { token: plain, group: 'team', role: 'contributor', email: friend.email }), /is not a contributor/);
    await assert.rejects(h.call(M.gather, { token: friendToken, group: 'team' }), /holds no role in group team/);
    // Even the keys gathered before the removal open nothing new.
    await assert.rejects(h.call(M.gather, { token: friendGathered.token, group: 'team' }), /holds no role in group team/);

    const after = await h.call<DetailsResponse>(M.details, { group: 'team' });
    const key = (d: DetailsResponse, p: string) => Buffer.from(d.roles.find((r) => r.purpose === p)!.readKey).toString('hex');
    assert.notEqual(key(after, 'contributor'), key(before, 'contributor'));
    assert.equal(key(after, 'delegate'), key(before, 'delegate'));
    assert.ok(Buffer.from(after.delegateSignKey).equals(Buffer.from(before.delegateSignKey)), 'the delegate keeps its keys');

    // What a member writes for the contributor role after the removal: the old keys cannot read it.
    const fresh = parseToken((await h.call<GatherResponse>(M.gather, { token: plain, group: 'team' })).token).claims.session;
    const stale = parseToken(friendGathered.token).claims.session;
    const contributorOf = (s: AteSession) => s.groups.find((g) => g.name === 'team')!.roles.find((r) => r.purpose === 'contributor')!;
    const chain = await new ChainBuilder().open('shared');
    const w = new Dio(chain, fresh);
    const doc = w.store({ text: 'after the removal' }, { readers: [{ kind: 'public', key: publicReadKey(contributorOf(fresh).privateReadKeys[0]!) }] });
    await w.commit();
    await assert.rejects(new Dio(chain, stale).load(doc.key), MissingReadKeyError);
    assert.equal((await new Dio(chain, fresh).load<{ text: string }>(doc.key)).value.text, 'after the removal');
    await chain.close();
  }));

test('tokens from elsewhere, expired or malformed are refused by the server with one line', () =>
  withServer(async (h) => {
    const u = await createUser(h, 'eve@example.com');
    const token = await login(h, u);
    await assert.rejects(h.call(M.gather, { token: 'garbage', group: 'team' }), /the token is malformed/);
    h.clock.now += 31 * 86_400_000;
    await assert.rejects(h.call(M.gather, { token, group: 'team' }), /the token expired on/);
    await withServer(async (other) => {
      await assert.rejects(other.call(M.gather, { token, group: 'team' }), /issued by another auth server/);
    });
    await assert.rejects(h.call(M.login, { email: 'eve@example.com' }), /bad request: secret/);
    await assert.rejects(h.call(M.salt, 'x'), /bad request/);
  }));
