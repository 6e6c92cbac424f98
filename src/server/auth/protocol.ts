// The auth server's methods over the wire protocol's request/response messages
// ({t:'request', id, method, body} -> {t:'response', id, ok, body?, message?}); docs/FORMAT.md
// "Auth" lists them. Shared by the server (which checks every body) and the atefs commands.
import type { KdfParams } from '../../core/crypto/index.js';
import { AteError } from '../../core/errors.js';

export const AUTH_METHODS = {
  identity: 'auth.identity',
  salt: 'user.salt',
  createUser: 'user.create',
  login: 'user.login',
  advert: 'user.advert',
  gather: 'token.gather',
  createGroup: 'group.create',
  addUser: 'group.add-user',
  removeUser: 'group.remove-user',
  details: 'group.details',
} as const;

export type AuthMethod = (typeof AUTH_METHODS)[keyof typeof AUTH_METHODS];

/** The default port of an auth server. */
export const AUTH_PORT = 5001;

/** A refusal the caller can act on: its message travels back as the response's `message`. */
export class AuthError extends AteError {
  override readonly code = 'AUTH';
}

export interface IdentityResponse {
  /** encodeKey of the public key that signs this server's tokens. */
  readonly signKey: Uint8Array;
}

export interface SaltRequest {
  readonly email: string;
}
export interface SaltResponse {
  readonly salt: Uint8Array;
  readonly kdf: KdfParams;
}

export interface CreateUserRequest {
  readonly email: string;
  /** scrypt(password, salt, kdf): the client secret. */
  readonly secret: Uint8Array;
  readonly salt: Uint8Array;
  readonly kdf: KdfParams;
}
export interface CreateUserResponse {
  readonly uid: number;
  /** The TOTP secret as an otpauth:// URL, shown once (QR code) for an authenticator app. */
  readonly otpauth: string;
}

export interface LoginRequest {
  readonly email: string;
  readonly secret: Uint8Array;
  /** An authenticator code: the token then carries the sudo role. */
  readonly code?: string;
  readonly validForMs?: number;
}
export interface TokenResponse {
  readonly token: string;
}

export interface AdvertRequest {
  readonly email: string;
}
export interface AdvertResponse {
  readonly email: string;
  readonly uid: number;
  /** encodeKey of the user's public sign key: root of their personal chains. */
  readonly signKey: Uint8Array;
  readonly readKey: Uint8Array;
  readonly sudoSignKey: Uint8Array;
  readonly sudoReadKey: Uint8Array;
}

export interface GatherRequest {
  readonly token: string;
  readonly group: string;
}
export interface GatherResponse extends TokenResponse {
  readonly roles: readonly string[];
}

export interface CreateGroupRequest {
  readonly token: string;
  readonly group: string;
}
export interface CreateGroupResponse {
  readonly group: string;
  readonly gid: number;
}

export interface GroupUserRequest {
  readonly token: string;
  readonly group: string;
  readonly role: string;
  readonly email: string;
}
export interface RemoveUserResponse {
  /** The roles whose keys were replaced. */
  readonly rotated: readonly string[];
}

export interface DetailsRequest {
  readonly group: string;
  /** With a token that unlocks the owner or delegate role, members are listed. */
  readonly token?: string;
}
export interface RoleDetails {
  readonly purpose: string;
  readonly signKey: Uint8Array;
  readonly readKey: Uint8Array;
  readonly members?: readonly string[];
}
export interface DetailsResponse {
  readonly group: string;
  readonly gid: number;
  /** encodeKey of the delegate role's public sign key: root of the group's chain. */
  readonly delegateSignKey: Uint8Array;
  readonly roles: readonly RoleDetails[];
}

// Body checks: a malformed request gets one clear line rather than a crash.

export function bodyOf(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AuthError('bad request: the body is not a map');
  return body as Record<string, unknown>;
}

export function text(body: Record<string, unknown>, field: string, optional = false): string {
  const v = body[field];
  if (v === undefined && optional) return undefined as unknown as string;
  if (typeof v !== 'string' || v.length > 200_000) throw new AuthError(`bad request: ${field} is not text`);
  return v;
}

export function bytes(body: Record<string, unknown>, field: string, min: number, max: number): Uint8Array {
  const v = body[field];
  if (!(v instanceof Uint8Array) || v.length < min || v.length > max) throw new AuthError(`bad request: ${field} is not ${min === max ? min : `${min} to ${max}`} bytes`);
  return v;
}

export function kdfParams(body: Record<string, unknown>, field: string): KdfParams {
  const v = body[field] as Partial<KdfParams> | undefined;
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (typeof v !== 'object' || v === null || !ok(v.N) || !ok(v.r) || !ok(v.p)) throw new AuthError(`bad request: ${field} is not {N, r, p}`);
  return { N: v.N, r: v.r, p: v.p };
}
