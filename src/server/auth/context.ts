// What every auth handler works with: the store, the login limiter, the clock, and the checks of
// the tokens that callers present.
import { type KdfParams, publicSignKey } from '../../core/crypto/index.js';
import { NotFoundError } from '../../core/errors.js';
import type { PrimaryKey } from '../../core/event/ids.js';
import { TokenError, type TokenClaims, verifyToken } from '../../core/session/token.js';
import { AuthError } from './protocol.js';
import type { AuthStore } from './store.js';
import { LoginLimiter } from './rate-limit.js';

/** The weakest client KDF the server accepts: 16 MiB of scrypt (the client default is 64 MiB). */
export const MIN_KDF: KdfParams = { N: 2 ** 14, r: 8, p: 1 };

export interface AuthContext {
  readonly store: AuthStore;
  readonly limiter: LoginLimiter;
  /** The issuer shown in authenticator apps. */
  readonly issuer: string;
  readonly now: () => number;
  /** The last TOTP step accepted per account (a code works once). */
  readonly usedSteps: Map<string, number>;
  readonly minKdf: KdfParams;
}

export function authContext(store: AuthStore, opts: Partial<Omit<AuthContext, 'store'>> = {}): AuthContext {
  return {
    store,
    limiter: opts.limiter ?? new LoginLimiter(),
    issuer: opts.issuer ?? 'ATE',
    now: opts.now ?? Date.now,
    usedSteps: opts.usedSteps ?? new Map(),
    minKdf: opts.minKdf ?? MIN_KDF,
  };
}

/** The claims of a token this server issued; AuthError with the token's own message otherwise. */
export function callerClaims(ctx: AuthContext, token: string): TokenClaims {
  try {
    return verifyToken(token, { key: publicSignKey(ctx.store.master.write), name: 'this auth server' }, ctx.now());
  } catch (err) {
    if (err instanceof TokenError) throw new AuthError(err.message);
    throw err;
  }
}

/** The identity (email) of a verified token. */
export function callerEmail(claims: TokenClaims): string {
  const email = claims.session.user.identity;
  if (email === undefined) throw new AuthError('the token names no user; get a new one with atefs token generate');
  return email;
}

/** Loads an object readable by the master key from the shard of `name`, or undefined. */
export async function loadMaster<T>(ctx: AuthContext, name: string, key: PrimaryKey): Promise<T | undefined> {
  const dio = await ctx.store.dio(name);
  if (!dio.exists(key)) return undefined;
  try {
    return (await dio.load<T>(key)).value;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}
