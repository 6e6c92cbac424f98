// A session is the set of keys and identities a user acts with: their own role, an optional
// sudo role (unlocked with a second factor) and the roles of the groups they belong to.
import type { PrivateReadKey, PrivateSignKey, PublicReadKey, SymmetricKey } from '../crypto/index.js';

export type RolePurpose = 'owner' | 'delegate' | 'contributor' | 'observer' | `other-${string}`;

export interface GroupRole {
  readonly purpose: RolePurpose;
  readonly readKeys: readonly SymmetricKey[];
  readonly privateReadKeys: readonly PrivateReadKey[];
  readonly publicReadKeys: readonly PublicReadKey[];
  readonly writeKeys: readonly PrivateSignKey[];
  readonly identity?: string;
  readonly uid?: number;
  readonly gid?: number;
}

export interface Group {
  readonly name: string;
  readonly roles: readonly GroupRole[];
}

export interface AteSession {
  readonly user: GroupRole;
  readonly sudo?: GroupRole;
  readonly groups: readonly Group[];
}

export function role(purpose: RolePurpose, keys: Partial<Omit<GroupRole, 'purpose'>> = {}): GroupRole {
  return {
    purpose,
    readKeys: keys.readKeys ?? [],
    privateReadKeys: keys.privateReadKeys ?? [],
    publicReadKeys: keys.publicReadKeys ?? [],
    writeKeys: keys.writeKeys ?? [],
    ...(keys.identity !== undefined ? { identity: keys.identity } : {}),
    ...(keys.uid !== undefined ? { uid: keys.uid } : {}),
    ...(keys.gid !== undefined ? { gid: keys.gid } : {}),
  };
}

/** The empty session: it can read and write only what is open to everyone. */
export function anonymousSession(): AteSession {
  return { user: role('owner'), groups: [] };
}

export function userSession(keys: Partial<Omit<GroupRole, 'purpose'>>): AteSession {
  return { user: role('owner', keys), groups: [] };
}

function allRoles(s: AteSession): GroupRole[] {
  return [s.user, ...(s.sudo ? [s.sudo] : []), ...s.groups.flatMap((g) => g.roles)];
}

export const readKeys = (s: AteSession): SymmetricKey[] => allRoles(s).flatMap((r) => r.readKeys);
export const privateReadKeys = (s: AteSession): PrivateReadKey[] => allRoles(s).flatMap((r) => r.privateReadKeys);
export const writeKeys = (s: AteSession): PrivateSignKey[] => allRoles(s).flatMap((r) => r.writeKeys);

export function identity(s: AteSession): string | undefined {
  return s.sudo?.identity ?? s.user.identity;
}

export function uid(s: AteSession): number | undefined {
  return s.sudo?.uid ?? s.user.uid;
}

export function gid(s: AteSession): number | undefined {
  return s.sudo?.gid ?? s.user.gid;
}

/** Merges two sessions (for example a user's and the keys a server sent with SecuredWith). */
export function appendSession(a: AteSession, b: AteSession): AteSession {
  const groups = new Map<string, GroupRole[]>();
  for (const g of [...a.groups, ...b.groups]) groups.set(g.name, [...(groups.get(g.name) ?? []), ...g.roles]);
  const merged = role(a.user.purpose, {
    readKeys: [...a.user.readKeys, ...b.user.readKeys],
    privateReadKeys: [...a.user.privateReadKeys, ...b.user.privateReadKeys],
    publicReadKeys: [...a.user.publicReadKeys, ...b.user.publicReadKeys],
    writeKeys: [...a.user.writeKeys, ...b.user.writeKeys],
    ...(a.user.identity ?? b.user.identity ? { identity: (a.user.identity ?? b.user.identity)! } : {}),
    ...(a.user.uid ?? b.user.uid) !== undefined ? { uid: (a.user.uid ?? b.user.uid)! } : {},
    ...(a.user.gid ?? b.user.gid) !== undefined ? { gid: (a.user.gid ?? b.user.gid)! } : {},
  });
  const sudo = a.sudo ?? b.sudo;
  return {
    user: merged,
    ...(sudo ? { sudo } : {}),
    groups: [...groups].map(([name, roles]) => ({ name, roles })),
  };
}
