// Who may subscribe to a chain of an atedb with an auth server: the holder of a current token that
// the auth server signed, whose session holds the owner's sign key (a personal chain) or one of
// the group's role keys (a group chain). Holding a private key is the proof: the token carries the
// session's keys, and the auth server vouches for the token.
import { type PublicSignKey, publicSignKey, signKeyHash, toHex } from '../core/crypto/index.js';
import { writeKeys } from '../core/session/session.js';
import { TokenError, type TokenClaims, verifyToken } from '../core/session/token.js';
import type { AuthDirectory, GroupKeys } from './auth-directory.js';
import type { ChainKind } from './open-policy.js';
import { ChainRefusal } from './refusal.js';

/**
 * How long the keys of a user or group are taken from memory. Short, because removing a member
 * replaces the keys of their roles (and removing a delegate the group chain's root key): the
 * removal shuts them out after at most this long.
 */
export const KEYS_MAX_AGE_MS = 2000;

/** How often a subscription's token is checked again (it may expire, its holder leave the group). */
export const ACCESS_RECHECK_MS = 3000;

const idOf = (k: PublicSignKey): string => toHex(signKeyHash(k));

/** The token gives no access (as opposed to an auth server that cannot be asked). */
export class AccessDenied extends ChainRefusal {
  constructor(message: string) {
    super('denied', message);
  }
}

export class AccessGate {
  private issuer: Promise<PublicSignKey> | undefined;
  private readonly cache = new Map<string, { readonly at: number; readonly value: Promise<unknown> }>();
  /** Tokens whose signature verified (a recheck needs no new verification). */
  private readonly verifiedTokens = new Map<string, TokenClaims>();

  constructor(
    private readonly auth: AuthDirectory,
    private readonly maxAgeMs = KEYS_MAX_AGE_MS,
  ) {}

  /** Checks the token of a subscribe to `kind`; resolves with the chain's root key as of now. */
  async admit(kind: ChainKind, token: string | undefined): Promise<PublicSignKey> {
    if (token === undefined) {
      throw new AccessDenied(
        `${kind.key} needs a token: this server checks access with the auth server at ${this.auth.url}; give one with --token-path <file> (atefs token generate --out <file> writes one)`,
      );
    }
    const claims = await this.verified(token);
    const held = new Set(writeKeys(claims.session).map((k) => idOf(publicSignKey(k))));
    const who = claims.session.user.identity ?? 'the token';
    if (kind.kind === 'personal') {
      const root = await this.cached(`user:${kind.email}`, () => this.auth.userRootKey(kind.email));
      if (!held.has(idOf(root))) throw new AccessDenied(`${who} has no access to ${kind.key}: it is ${kind.email}'s chain`);
      return root;
    }
    const keys = await this.cached<GroupKeys>(`group:${kind.group}`, () => this.auth.groupKeys(kind.group));
    if (!keys.roles.some((k) => held.has(idOf(k)))) {
      throw new AccessDenied(
        `${who} has no access to ${kind.key}: the token holds none of the current keys of group ${kind.group} (a member gets them with atefs token gather ${kind.group})`,
      );
    }
    return keys.delegate;
  }

  private async verified(token: string): Promise<TokenClaims> {
    const known = this.verifiedTokens.get(token);
    if (known && Date.now() < known.expiresAt) return known;
    this.issuer ??= this.auth.issuerKey();
    const issuer = this.issuer;
    // A failed ask is asked again next time (the auth server may come back).
    issuer.catch(() => {
      if (this.issuer === issuer) this.issuer = undefined;
    });
    const key = await issuer;
    let claims: TokenClaims;
    try {
      claims = verifyToken(token, { key, name: `the auth server at ${this.auth.url}` });
    } catch (err) {
      if (err instanceof TokenError) throw new AccessDenied(err.message);
      throw err;
    }
    if (this.verifiedTokens.size >= 4096) this.verifiedTokens.clear();
    this.verifiedTokens.set(token, claims);
    return claims;
  }

  private cached<T>(name: string, ask: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(name);
    if (hit && Date.now() - hit.at < this.maxAgeMs) return hit.value as Promise<T>;
    if (this.cache.size >= 4096) for (const [k, e] of this.cache) if (Date.now() - e.at >= this.maxAgeMs) this.cache.delete(k);
    const value = ask();
    const entry = { at: Date.now(), value };
    this.cache.set(name, entry);
    value.catch(() => {
      if (this.cache.get(name) === entry) this.cache.delete(name);
    });
    return value;
  }
}
