// Users: creation, salts, login (password, and password plus authenticator code for sudo), adverts.
//
// Keys. The client turns the password into a secret with scrypt and a per-user salt; the server
// mixes that secret with its master key into the user's super key, which encrypts the user record
// (and, derived once more, the sudo record). Neither the server's disk and master key without the
// password, nor the password without the master key, opens a record. A wrong password cannot
// decrypt the record, which is how it is detected.
import { createHash } from 'node:crypto';
import { DEFAULT_KDF, type SymmetricKey, keyFromSeed, publicReadKey, publicSignKey } from '../../core/crypto/index.js';
import { Dio } from '../../core/dio/dio.js';
import { MissingReadKeyError, NotFoundError } from '../../core/errors.js';
import { type AteSession, userSession } from '../../core/session/session.js';
import { MAX_TOKEN_VALIDITY_MS, issueToken } from '../../core/session/token.js';
import { type AuthContext, loadMaster } from './context.js';
import {
  type AdvertRecord,
  type KeySet,
  type LoginRecord,
  type SudoRecord,
  type UserRecord,
  encodePublicReadKey,
  encodePublicSignKey,
  loadKeySet,
  newKeySet,
  objectKey,
  roleOf,
  storeKeySet,
} from './model.js';
import { emailProblem, normalizeEmail } from './policy.js';
import {
  type AdvertResponse,
  AuthError,
  type CreateUserRequest,
  type CreateUserResponse,
  type LoginRequest,
  type SaltResponse,
  type TokenResponse,
} from './protocol.js';
import { matchTotp, newTotpSecret, otpauthUrl } from './totp.js';

export const SECRET_BYTES = 32;
const UID_BASE = 2 ** 31;
const UID_SPAN = 2 ** 30;
const PROBES = 50;

export function checkedEmail(raw: string): string {
  const email = normalizeEmail(raw);
  const problem = emailProblem(email);
  if (problem) throw new AuthError(problem);
  return email;
}

/** The key of the user record: neither the master key nor the client secret alone gives it. */
export function superKey(ctx: AuthContext, secret: Uint8Array): SymmetricKey {
  return keyFromSeed(Buffer.concat([ctx.store.master.read, secret]), 'ate-auth/super-key');
}

const sudoKey = (superKey: SymmetricKey): SymmetricKey => keyFromSeed(superKey, 'ate-auth/sudo-key');

/**
 * The salt and KDF of an account. An unknown email gets a salt made from the master key and the
 * email: stable and random-looking, so that this answer does not tell which emails exist.
 */
export async function saltOf(ctx: AuthContext, rawEmail: string): Promise<SaltResponse> {
  const email = checkedEmail(rawEmail);
  const login = await loadMaster<LoginRecord>(ctx, email, objectKey.login(email));
  if (login) return { salt: login.salt, kdf: login.kdf };
  return { salt: keyFromSeed(ctx.store.master.read, `ate-auth/unknown-salt:${email}`).subarray(0, 16), kdf: DEFAULT_KDF };
}

/** A free uid: hashed from the email into [2^31, 2^31 + 2^30), then the next free ones. */
async function allocateUid(ctx: AuthContext, email: string): Promise<number> {
  const start = createHash('sha256').update(email).digest().readUInt32BE(0) % UID_SPAN;
  for (let i = 0; i < PROBES; i++) {
    const uid = UID_BASE + ((start + i) % UID_SPAN);
    const dio = await ctx.store.dio(`uid:${uid}`);
    if (dio.exists(objectKey.uid(uid))) continue;
    dio.store({ email }, { key: objectKey.uid(uid), readers: [{ kind: 'symmetric', key: ctx.store.master.read }] });
    await dio.commit();
    return uid;
  }
  throw new AuthError('no free uid left near this email; contact the administrator of the auth server');
}

export function checkKdf(ctx: AuthContext, kdf: { N: number; r: number; p: number }): void {
  const { N, r, p } = kdf;
  if (N < ctx.minKdf.N || r < ctx.minKdf.r || p < 1 || N > 2 ** 22 || r > 32 || p > 16 || (N & (N - 1)) !== 0) {
    throw new AuthError(`the password KDF is too weak or out of range (N=${N} r=${r} p=${p}; at least N=${ctx.minKdf.N} r=${ctx.minKdf.r})`);
  }
}

export async function createUser(ctx: AuthContext, req: CreateUserRequest): Promise<CreateUserResponse> {
  const email = checkedEmail(req.email);
  checkKdf(ctx, req.kdf);
  const nominal = newKeySet();
  const sudo = newKeySet();
  const totpSecret = newTotpSecret();
  const key = superKey(ctx, req.secret);
  return ctx.store.exclusive(async () => {
    if ((await ctx.store.dio(email)).exists(objectKey.login(email))) {
      throw new AuthError(`a user with the email ${email} already exists; log in with atefs token generate ${email}, or choose another email`);
    }
    const uid = await allocateUid(ctx, email);
    const dio = await ctx.store.dio(email);
    const master = [{ kind: 'symmetric', key: ctx.store.master.read }] as const;
    const login: LoginRecord = { salt: req.salt, kdf: req.kdf };
    const user: UserRecord = { email, uid, created: ctx.now(), keys: storeKeySet(nominal) };
    const sudoRecord: SudoRecord = { totpSecret, keys: storeKeySet(sudo) };
    const advert: AdvertRecord = {
      email,
      uid,
      signKey: encodePublicSignKey(publicSignKey(nominal.write)),
      readKey: encodePublicReadKey(publicReadKey(nominal.privateRead)),
      sudoSignKey: encodePublicSignKey(publicSignKey(sudo.write)),
      sudoReadKey: encodePublicReadKey(publicReadKey(sudo.privateRead)),
    };
    dio.store(login, { key: objectKey.login(email), readers: master });
    dio.store(user, { key: objectKey.user(email), readers: [{ kind: 'symmetric', key }] });
    dio.store(sudoRecord, { key: objectKey.sudo(email), readers: [{ kind: 'symmetric', key: sudoKey(key) }] });
    dio.store(advert, { key: objectKey.advert(email), readers: 'everyone' });
    await dio.commit();
    return { uid, otpauth: otpauthUrl(ctx.issuer, email, totpSecret) };
  });
}

/** Loads a record that only `key` opens; undefined when it is missing or `key` is wrong. */
async function loadSecret<T>(ctx: AuthContext, email: string, objKey: ReturnType<typeof objectKey.user>, key: SymmetricKey): Promise<T | undefined> {
  const dio = new Dio(await ctx.store.chainFor(email), userSession({ readKeys: [key] }));
  try {
    return (await dio.load<T>(objKey)).value;
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof MissingReadKeyError) return undefined;
    throw err;
  }
}

function refuseWhileLimited(ctx: AuthContext, email: string): void {
  const wait = ctx.limiter.waitFor(email, ctx.now());
  if (wait > 0) throw new AuthError(`too many failed logins for ${email}; try again in ${Math.ceil(wait / 1000)} s`);
}

/** Checks the password (and the code, for sudo) and issues a token. */
export async function login(ctx: AuthContext, req: LoginRequest): Promise<TokenResponse> {
  const email = checkedEmail(req.email);
  refuseWhileLimited(ctx, email);
  const key = superKey(ctx, req.secret);
  const user = await loadSecret<UserRecord>(ctx, email, objectKey.user(email), key);
  if (!user) {
    ctx.limiter.failed(email, ctx.now());
    throw new AuthError('wrong email or password');
  }
  const nominal: KeySet = loadKeySet(user.keys);
  let sudoKeys: KeySet | undefined;
  if (req.code !== undefined) {
    const sudo = await loadSecret<SudoRecord>(ctx, email, objectKey.sudo(email), sudoKey(key));
    if (!sudo) throw new AuthError('this account has no sudo record; contact the administrator of the auth server');
    const step = matchTotp(sudo.totpSecret, req.code.trim(), ctx.now());
    if (step === undefined) {
      ctx.limiter.failed(email, ctx.now());
      throw new AuthError('wrong authenticator code; type the 6 digits your authenticator app shows now');
    }
    if (step <= (ctx.usedSteps.get(email) ?? -1)) throw new AuthError('this authenticator code was used already; wait for the next one (30 s)');
    ctx.usedSteps.set(email, step);
    sudoKeys = loadKeySet(sudo.keys);
  }
  ctx.limiter.succeeded(email);
  const who = { identity: email, uid: user.uid };
  const session: AteSession = { user: roleOf('owner', nominal, who), ...(sudoKeys ? { sudo: roleOf('owner', sudoKeys, who) } : {}), groups: [] };
  const validForMs = req.validForMs;
  if (validForMs !== undefined && !(validForMs > 0 && validForMs <= MAX_TOKEN_VALIDITY_MS)) {
    throw new AuthError(`a token is valid for at most ${MAX_TOKEN_VALIDITY_MS / 86_400_000} days`);
  }
  return { token: issueToken(session, ctx.store.master.write, { now: ctx.now(), ...(validForMs !== undefined ? { validForMs } : {}) }) };
}

export async function advertOf(ctx: AuthContext, rawEmail: string): Promise<AdvertResponse> {
  const email = checkedEmail(rawEmail);
  const advert = await loadMaster<AdvertRecord>(ctx, email, objectKey.advert(email));
  if (!advert) throw new AuthError(`no user ${email} is known to this auth server; create it with atefs user create ${email}`);
  return advert;
}
