// The binary form of a session, for tokens: msgpack of plain maps whose keys are encodeKey bytes,
// so that a session holds any key type and decodes to exactly what was encoded.
import { Packr } from 'msgpackr';
import { type AnyKey, type KeyKind, decodeKey, encodeKey } from '../crypto/keys.js';
import type { PrivateReadKey, PrivateSignKey, PublicReadKey, SymmetricKey } from '../crypto/index.js';
import { KeyFormatError } from '../errors.js';
import { type AteSession, type Group, type GroupRole, type RolePurpose, role } from './session.js';

const SESSION_FORMAT_VERSION = 1;

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

interface WireRole {
  p: string;
  r: Uint8Array[];
  pr: Uint8Array[];
  pub: Uint8Array[];
  w: Uint8Array[];
  id?: string;
  uid?: number;
  gid?: number;
}

const ROLE_PURPOSE = /^(owner|delegate|contributor|observer|other-[A-Za-z0-9_.-]{1,64})$/;

/** Whether `text` names a role purpose: owner, delegate, contributor, observer or other-<name>. */
export function isRolePurpose(text: string): text is RolePurpose {
  return ROLE_PURPOSE.test(text);
}

function roleToWire(r: GroupRole): WireRole {
  return {
    p: r.purpose,
    r: r.readKeys.map((key) => encodeKey({ kind: 'symmetric', key })),
    pr: r.privateReadKeys.map((key) => encodeKey({ kind: 'read-private', key })),
    pub: r.publicReadKeys.map((key) => encodeKey({ kind: 'read-public', key })),
    w: r.writeKeys.map((key) => encodeKey({ kind: 'sign-private', key })),
    ...(r.identity !== undefined ? { id: r.identity } : {}),
    ...(r.uid !== undefined ? { uid: r.uid } : {}),
    ...(r.gid !== undefined ? { gid: r.gid } : {}),
  };
}

function keysOf(list: unknown, kind: KeyKind, what: string): AnyKey['key'][] {
  if (!Array.isArray(list)) throw new KeyFormatError(`a session role's ${what} is not a list`);
  return list.map((bytes) => {
    if (!(bytes instanceof Uint8Array)) throw new KeyFormatError(`a session role's ${what} holds a non-binary entry`);
    const k = decodeKey(bytes);
    if (k.kind !== kind) throw new KeyFormatError(`a session role's ${what} holds a ${k.kind} key`);
    return k.key;
  });
}

const optionalNumber = (v: unknown, what: string): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new KeyFormatError(`a session role's ${what} is not a 32-bit id`);
  return v;
};

function roleFromWire(v: unknown): GroupRole {
  if (typeof v !== 'object' || v === null) throw new KeyFormatError('a session role is not a map');
  const w = v as Partial<Record<keyof WireRole, unknown>>;
  if (typeof w.p !== 'string' || !isRolePurpose(w.p)) throw new KeyFormatError(`a session role has an unknown purpose ${String(w.p)}`);
  if (w.id !== undefined && typeof w.id !== 'string') throw new KeyFormatError("a session role's identity is not text");
  const uid = optionalNumber(w.uid, 'uid');
  const gid = optionalNumber(w.gid, 'gid');
  return role(w.p, {
    readKeys: keysOf(w.r, 'symmetric', 'read keys') as SymmetricKey[],
    privateReadKeys: keysOf(w.pr, 'read-private', 'private read keys') as PrivateReadKey[],
    publicReadKeys: keysOf(w.pub, 'read-public', 'public read keys') as PublicReadKey[],
    writeKeys: keysOf(w.w, 'sign-private', 'write keys') as PrivateSignKey[],
    ...(w.id !== undefined ? { identity: w.id as string } : {}),
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
  });
}

export function encodeSession(s: AteSession): Uint8Array {
  return new Uint8Array(
    packr.pack({
      v: SESSION_FORMAT_VERSION,
      user: roleToWire(s.user),
      ...(s.sudo ? { sudo: roleToWire(s.sudo) } : {}),
      groups: s.groups.map((g) => ({ name: g.name, roles: g.roles.map(roleToWire) })),
    }),
  );
}

/** The session `bytes` encode; KeyFormatError (and nothing else) on anything malformed. */
export function decodeSession(bytes: Uint8Array): AteSession {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch (cause) {
    throw new KeyFormatError('not an encoded session (undecodable bytes)', { cause });
  }
  if (typeof v !== 'object' || v === null) throw new KeyFormatError('not an encoded session');
  const s = v as { v?: unknown; user?: unknown; sudo?: unknown; groups?: unknown };
  if (s.v !== SESSION_FORMAT_VERSION) throw new KeyFormatError(`unsupported session format version ${String(s.v)}; upgrade ate`);
  if (!Array.isArray(s.groups)) throw new KeyFormatError("a session's groups are not a list");
  const groups: Group[] = s.groups.map((g: unknown) => {
    const gg = g as { name?: unknown; roles?: unknown };
    if (typeof gg?.name !== 'string' || !Array.isArray(gg.roles)) throw new KeyFormatError('a session group is malformed');
    return { name: gg.name, roles: gg.roles.map(roleFromWire) };
  });
  return { user: roleFromWire(s.user), ...(s.sudo !== undefined ? { sudo: roleFromWire(s.sudo) } : {}), groups };
}
