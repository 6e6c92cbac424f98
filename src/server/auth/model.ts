// What the auth server keeps in its chains, and where. Every record is an object whose key is
// derived from its name, in the shard chain of that name (store.ts):
//
//   login:<email>    {salt, kdf}                  readers: the master key (salts stay off the wire for unknown emails)
//   user:<email>     UserRecord                   readers: the user's super key (master key mixed with the password's KDF)
//   sudo:<email>     SudoRecord                   readers: the user's super-super key (derived from the super key)
//   advert:<email>   AdvertRecord                 readers: everyone (public keys only)
//   uid:<n>          {email}                      readers: the master key (reserves a uid)
//   group:<name>     GroupRecord                  readers: the master key
//   role:<name>:<p>  StoredKeySet of role p       readers: the role's members and the roles above it (groups.ts)
//   gid:<n>          {group}                      readers: the master key (reserves a gid)
import {
  type KdfParams,
  type PrivateReadKey,
  type PrivateSignKey,
  type PublicReadKey,
  type PublicSignKey,
  type SymmetricKey,
  decodeKey,
  encodeKey,
  generateReadKeyPair,
  generateSignKey,
  generateSymmetricKey,
  publicReadKey,
  publicSignKey,
} from '../../core/crypto/index.js';
import { type PrimaryKey, primaryKeyFromName } from '../../core/event/ids.js';
import { KeyFormatError } from '../../core/errors.js';
import { type GroupRole, type RolePurpose, role } from '../../core/session/session.js';
import type { AdvertResponse } from './protocol.js';

/** The three keys of a user, a user's sudo or a group role. */
export interface KeySet {
  readonly read: SymmetricKey;
  readonly privateRead: PrivateReadKey;
  readonly write: PrivateSignKey;
}

/** A KeySet as stored: encodeKey bytes. */
export interface StoredKeySet {
  readonly read: Uint8Array;
  readonly privateRead: Uint8Array;
  readonly write: Uint8Array;
}

export interface LoginRecord {
  readonly salt: Uint8Array;
  readonly kdf: KdfParams;
}

export interface UserRecord {
  readonly email: string;
  readonly uid: number;
  readonly created: number;
  readonly keys: StoredKeySet;
}

export interface SudoRecord {
  readonly totpSecret: Uint8Array;
  readonly keys: StoredKeySet;
}

/** A user's public profile: what others need to share with them (and atedb, to root their chains); stored as it is answered. */
export type AdvertRecord = AdvertResponse;

/** A member of a role: the public read key the role's keys are wrapped for. */
export interface MemberRecord {
  readonly email: string;
  readonly readKey: Uint8Array;
}

export interface RoleRecord {
  readonly purpose: RolePurpose;
  readonly signKey: Uint8Array;
  readonly readKey: Uint8Array;
  readonly members: readonly MemberRecord[];
}

export interface GroupRecord {
  readonly name: string;
  readonly gid: number;
  readonly created: number;
  readonly roles: readonly RoleRecord[];
}

export const objectKey = {
  login: (email: string): PrimaryKey => primaryKeyFromName(`ate-auth/login:${email}`),
  user: (email: string): PrimaryKey => primaryKeyFromName(`ate-auth/user:${email}`),
  sudo: (email: string): PrimaryKey => primaryKeyFromName(`ate-auth/sudo:${email}`),
  advert: (email: string): PrimaryKey => primaryKeyFromName(`ate-auth/advert:${email}`),
  uid: (uid: number): PrimaryKey => primaryKeyFromName(`ate-auth/uid:${uid}`),
  group: (name: string): PrimaryKey => primaryKeyFromName(`ate-auth/group:${name}`),
  role: (group: string, purpose: RolePurpose): PrimaryKey => primaryKeyFromName(`ate-auth/role:${group}:${purpose}`),
  gid: (gid: number): PrimaryKey => primaryKeyFromName(`ate-auth/gid:${gid}`),
};

export const newKeySet = (): KeySet => ({ read: generateSymmetricKey(), privateRead: generateReadKeyPair(), write: generateSignKey('ml-dsa-65') });

export const storeKeySet = (k: KeySet): StoredKeySet => ({
  read: encodeKey({ kind: 'symmetric', key: k.read }),
  privateRead: encodeKey({ kind: 'read-private', key: k.privateRead }),
  write: encodeKey({ kind: 'sign-private', key: k.write }),
});

function decodeAs<K extends 'symmetric' | 'read-private' | 'sign-private' | 'sign-public' | 'read-public'>(bytes: Uint8Array, kind: K) {
  const k = decodeKey(bytes);
  if (k.kind !== kind) throw new KeyFormatError(`expected a ${kind} key, found a ${k.kind} key`);
  return k.key as Extract<ReturnType<typeof decodeKey>, { kind: K }>['key'];
}

export const loadKeySet = (s: StoredKeySet): KeySet => ({
  read: decodeAs(s.read, 'symmetric'),
  privateRead: decodeAs(s.privateRead, 'read-private'),
  write: decodeAs(s.write, 'sign-private'),
});

export const encodePublicSignKey = (k: PublicSignKey): Uint8Array => encodeKey({ kind: 'sign-public', key: k });
export const encodePublicReadKey = (k: PublicReadKey): Uint8Array => encodeKey({ kind: 'read-public', key: k });
export const decodePublicSignKey = (b: Uint8Array): PublicSignKey => decodeAs(b, 'sign-public');
export const decodePublicReadKey = (b: Uint8Array): PublicReadKey => decodeAs(b, 'read-public');

/** The public halves of a key set, as stored in adverts and group records. */
export const publicHalves = (k: KeySet): { signKey: Uint8Array; readKey: Uint8Array } => ({
  signKey: encodePublicSignKey(publicSignKey(k.write)),
  readKey: encodePublicReadKey(publicReadKey(k.privateRead)),
});

/** A key set as a session role. */
export function roleOf(purpose: RolePurpose, k: KeySet, extra: { identity?: string; uid?: number; gid?: number } = {}): GroupRole {
  return role(purpose, { readKeys: [k.read], privateReadKeys: [k.privateRead], writeKeys: [k.write], ...extra });
}
