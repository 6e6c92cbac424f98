// A token is a session with an expiry, signed by the auth server that issued it (ML-DSA-65), so
// that atefs and atedb can tell a real, current token from an altered, forged or stale one.
//
// Binary: msgpack [version, body, signature], where body is the msgpack of
// {v, iat, exp, iss: encodeKey(issuer public sign key), auth?: url, session: encodeSession(...)} and
// the signature covers SIGN_LABEL || body. Text (files, ATE_TOKEN): 'ate-token:<base64url>'.
import { Packr } from 'msgpackr';
import { type PrivateSignKey, type PublicSignKey, fingerprint, publicSignKey, sign, signKeyHash, verify } from '../crypto/index.js';
import { decodeKey, encodeKey } from '../crypto/keys.js';
import { AteError, KeyFormatError } from '../errors.js';
import { decodeSession, encodeSession } from './encoding.js';
import type { AteSession } from './session.js';

/** A token in its text form. */
export type TokenText = string & { readonly __brand: 'TokenText' };

export interface TokenClaims {
  readonly session: AteSession;
  /** ms since the Unix epoch */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** The key of the auth server that signed the token. */
  readonly issuer: PublicSignKey;
  /** The URL the auth server was reached at when it issued the token (informative). */
  readonly authUrl?: string;
}

export interface ParsedToken {
  readonly claims: TokenClaims;
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
}

/** Tokens live 30 days unless asked otherwise. */
export const DEFAULT_TOKEN_VALIDITY_MS = 30 * 24 * 3600 * 1000;
export const MAX_TOKEN_VALIDITY_MS = 366 * 24 * 3600 * 1000;

const TOKEN_VERSION = 1;
const TEXT_PREFIX = 'ate-token:';
const SIGN_LABEL = Buffer.from('ate/token v1\0');
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

export class TokenError extends AteError {
  override readonly code: string = 'TOKEN';
}
export class TokenMalformedError extends TokenError {
  override readonly code = 'TOKEN_MALFORMED';
}
export class TokenExpiredError extends TokenError {
  override readonly code = 'TOKEN_EXPIRED';
}
export class TokenForgedError extends TokenError {
  override readonly code = 'TOKEN_FORGED';
}
export class TokenIssuerError extends TokenError {
  override readonly code = 'TOKEN_ISSUER';
}

const signedBytes = (body: Uint8Array): Uint8Array => Buffer.concat([SIGN_LABEL, body]);

/** A fingerprint of a signing key, for messages: 'a1b2-c3d4-e5f6-0718'. */
export const issuerFingerprint = (key: PublicSignKey): string => fingerprint(signKeyHash(key));

export interface IssueOptions {
  readonly validForMs?: number;
  readonly now?: number;
  readonly authUrl?: string;
  /** A token never outlives this moment (a gathered token keeps its parent's expiry). */
  readonly notAfter?: number;
}

/** Signs a session into a token (about 5 ms: one ML-DSA-65 signature). */
export function issueToken(session: AteSession, signer: PrivateSignKey, opts: IssueOptions = {}): TokenText {
  const now = opts.now ?? Date.now();
  const validFor = opts.validForMs ?? DEFAULT_TOKEN_VALIDITY_MS;
  if (!(validFor > 0) || validFor > MAX_TOKEN_VALIDITY_MS) throw new KeyFormatError(`a token is valid for 1 ms to ${MAX_TOKEN_VALIDITY_MS / 86_400_000} days`);
  const exp = Math.min(now + validFor, opts.notAfter ?? Infinity);
  const body = new Uint8Array(
    packr.pack({
      v: TOKEN_VERSION,
      iat: now,
      exp,
      iss: encodeKey({ kind: 'sign-public', key: publicSignKey(signer) }),
      ...(opts.authUrl !== undefined ? { auth: opts.authUrl } : {}),
      session: encodeSession(session),
    }),
  );
  const token = packr.pack([TOKEN_VERSION, body, sign(signer, signedBytes(body))]);
  return `${TEXT_PREFIX}${Buffer.from(token).toString('base64url')}` as TokenText;
}

const malformed = (why: string, cause?: unknown): TokenMalformedError =>
  new TokenMalformedError(`the token is malformed (${why}); get a new one with atefs token generate`, cause ? { cause } : undefined);

/** The claims of a token, unverified; TokenMalformedError on anything that is not a token. */
export function parseToken(text: string): ParsedToken {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (!trimmed.startsWith(TEXT_PREFIX)) throw malformed(`it does not start with '${TEXT_PREFIX}'`);
  const b64 = trimmed.slice(TEXT_PREFIX.length);
  if (!BASE64URL.test(b64)) throw malformed('it is not base64url text');
  let outer: unknown;
  try {
    outer = packr.unpack(Buffer.from(b64, 'base64url'));
  } catch (cause) {
    throw malformed('undecodable bytes', cause);
  }
  if (!Array.isArray(outer) || outer.length !== 3) throw malformed('wrong structure');
  const [version, body, signature] = outer as unknown[];
  if (version !== TOKEN_VERSION) throw malformed(`unsupported token version ${String(version)}`);
  if (!(body instanceof Uint8Array) || !(signature instanceof Uint8Array)) throw malformed('wrong structure');
  let claims: Record<string, unknown>;
  try {
    claims = packr.unpack(body) as Record<string, unknown>;
  } catch (cause) {
    throw malformed('undecodable claims', cause);
  }
  if (typeof claims !== 'object' || claims === null || claims['v'] !== TOKEN_VERSION) throw malformed('wrong claims');
  const { iat, exp, iss, auth, session } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number' || !(iss instanceof Uint8Array) || !(session instanceof Uint8Array)) throw malformed('missing claims');
  if (auth !== undefined && typeof auth !== 'string') throw malformed('wrong claims');
  try {
    const issuer = decodeKey(iss);
    if (issuer.kind !== 'sign-public') throw new KeyFormatError('the issuer is not a public signing key');
    return {
      claims: { session: decodeSession(session), issuedAt: iat, expiresAt: exp, issuer: issuer.key, ...(auth !== undefined ? { authUrl: auth } : {}) },
      body,
      signature,
    };
  } catch (err) {
    if (err instanceof KeyFormatError) throw malformed(err.message, err);
    throw err;
  }
}

export interface ExpectedIssuer {
  readonly key: PublicSignKey;
  /** How the issuer is named in messages, e.g. 'the auth server at tcp://host:5001/'. */
  readonly name: string;
}

/**
 * The claims of a token that `issuer` signed and that has not expired. One error per failure:
 * TokenMalformedError, TokenIssuerError (another server's token), TokenForgedError, TokenExpiredError.
 */
export function verifyToken(text: string, issuer: ExpectedIssuer, now = Date.now()): TokenClaims {
  const t = parseToken(text);
  const claimed = t.claims.issuer;
  if (claimed.alg !== issuer.key.alg || !Buffer.from(claimed.bytes).equals(Buffer.from(issuer.key.bytes))) {
    throw new TokenIssuerError(
      `the token was issued by another auth server (key ${issuerFingerprint(claimed)}${t.claims.authUrl ? ` at ${t.claims.authUrl}` : ''}), not by ${issuer.name} (key ${issuerFingerprint(issuer.key)}); get a token from it, or point --auth at the server that issued this one`,
    );
  }
  if (!verify(issuer.key, signedBytes(t.body), t.signature)) {
    throw new TokenForgedError(`the token's signature does not verify: it was altered or forged; get a new one with atefs token generate`);
  }
  if (now >= t.claims.expiresAt) {
    throw new TokenExpiredError(`the token expired on ${new Date(t.claims.expiresAt).toISOString()}; get a new one with atefs token generate`);
  }
  return t.claims;
}
