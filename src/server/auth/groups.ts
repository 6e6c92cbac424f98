// Groups: roles with their own keys, each role's keys readable by its members and by the roles
// above it. The owner role opens with a member's sudo key, every other role with the member's
// nominal key:
//
//   owner        members' sudo keys
//   delegate     members, owner
//   contributor  members, owner, delegate
//   observer     members, owner, delegate, contributor
//   other-<x>    members, owner, delegate
//
// The auth server cannot open a role's keys on its own (they are wrapped for members only); it
// gathers them for a caller with the keys of the caller's token. Removing a member replaces the
// keys of that role and of every role below it, so what is written after the removal is out of
// reach of the keys the removed member had.
import { createHash } from 'node:crypto';
import type { Chain } from '../../core/chain/chain.js';
import { Dio } from '../../core/dio/dio.js';
import { MissingReadKeyError, NotFoundError } from '../../core/errors.js';
import type { ReaderKey } from '../../core/trust/keyring.js';
import type { AteSession, GroupRole, RolePurpose } from '../../core/session/session.js';
import { type PrivateReadKey, publicReadKey } from '../../core/crypto/index.js';
import { isRolePurpose } from '../../core/session/encoding.js';
import { MAX_TOKEN_VALIDITY_MS, type TokenClaims, issueToken } from '../../core/session/token.js';
import { type AuthContext, callerClaims, callerEmail, loadMaster } from './context.js';
import { type GroupRecord, type KeySet, type MemberRecord, type RoleRecord, decodePublicReadKey, encodePublicReadKey, loadKeySet, newKeySet, objectKey, publicHalves, roleOf, storeKeySet } from './model.js';
import { groupProblem, normalizeGroup } from './policy.js';
import {
  AuthError,
  type CreateGroupResponse,
  type DetailsResponse,
  type GatherResponse,
  type GroupUserRequest,
  type RemoveUserResponse,
} from './protocol.js';
import { advertOf, checkedEmail } from './users.js';

const GID_BASE = 3 * 2 ** 30;
const GID_SPAN = 2 ** 30 - 2;
const PROBES = 50;
const STANDARD: readonly RolePurpose[] = ['owner', 'delegate', 'contributor', 'observer'];

/** The roles whose keys can read a role's keys (its members aside). */
export function parentsOf(purpose: RolePurpose): RolePurpose[] {
  switch (purpose) {
    case 'owner':
      return [];
    case 'delegate':
      return ['owner'];
    case 'contributor':
      return ['owner', 'delegate'];
    case 'observer':
      return ['owner', 'delegate', 'contributor'];
    default:
      return ['owner', 'delegate'];
  }
}

/** A role and every role its keys open, in an order where parents come first. */
export function closureOf(purpose: RolePurpose, roles: readonly RolePurpose[]): RolePurpose[] {
  const out = new Set<RolePurpose>([purpose]);
  for (const r of ordered(roles)) if (parentsOf(r).some((p) => out.has(p))) out.add(r);
  return ordered([...out]);
}

const rank = (p: RolePurpose): number => (STANDARD.includes(p) ? STANDARD.indexOf(p) : STANDARD.length);
const ordered = (roles: readonly RolePurpose[]): RolePurpose[] => [...roles].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

/** The role that may add or remove members of `purpose`. */
export const neededRoleFor = (purpose: RolePurpose): RolePurpose => (purpose === 'owner' || purpose === 'delegate' ? 'owner' : 'delegate');

function checkedGroup(raw: string): string {
  const problem = groupProblem(raw);
  if (problem) throw new AuthError(problem);
  return normalizeGroup(raw);
}

function checkedPurpose(raw: string): RolePurpose {
  if (!isRolePurpose(raw)) throw new AuthError(`"${raw}" is not a role: use owner, delegate, contributor, observer or other-<name>`);
  return raw;
}

async function groupRecord(ctx: AuthContext, name: string): Promise<GroupRecord> {
  const record = await loadMaster<GroupRecord>(ctx, name, objectKey.group(name));
  if (!record) throw new AuthError(`group ${name} does not exist; create it with atefs group create ${name}`);
  return record;
}

/** Who can read role `purpose`'s keys: its members' keys and its parent roles' keys. */
function readersOf(record: GroupRecord, purpose: RolePurpose): ReaderKey[] {
  const roles = new Map(record.roles.map((r) => [r.purpose, r]));
  const members = roles.get(purpose)?.members ?? [];
  const parents = parentsOf(purpose).flatMap((p) => (roles.has(p) ? [roles.get(p)!.readKey] : []));
  return [...members.map((m) => m.readKey), ...parents].map((bytes) => ({ kind: 'public', key: decodePublicReadKey(bytes) }) as const);
}

function storeRoleKeys(dio: Dio, record: GroupRecord, purpose: RolePurpose, keys: KeySet): void {
  dio.store(storeKeySet(keys), { key: objectKey.role(record.name, purpose), readers: readersOf(record, purpose) });
}

function storeGroup(ctx: AuthContext, dio: Dio, record: GroupRecord): void {
  dio.store(record, { key: objectKey.group(record.name), readers: [{ kind: 'symmetric', key: ctx.store.master.read }] });
}

const groupRoleOf = (record: GroupRecord, purpose: RolePurpose, keys: KeySet): GroupRole => roleOf(purpose, keys, { identity: record.name, gid: record.gid });

/**
 * The roles of a group that a session's keys open, directly or through roles they open
 * (owner opens delegate opens contributor opens observer): repeated until nothing new opens.
 */
async function gatherRoles(chain: Chain, record: GroupRecord, session: AteSession): Promise<Map<RolePurpose, KeySet>> {
  const gained = new Map<RolePurpose, KeySet>();
  for (let progress = true; progress; ) {
    progress = false;
    const held = { ...session, groups: [...session.groups, { name: `${record.name} (gathering)`, roles: [...gained].map(([p, k]) => groupRoleOf(record, p, k)) }] };
    for (const r of record.roles) {
      if (gained.has(r.purpose)) continue;
      try {
        const dao = await new Dio(chain, held).load<Parameters<typeof loadKeySet>[0]>(objectKey.role(record.name, r.purpose));
        gained.set(r.purpose, loadKeySet(dao.value));
        progress = true;
      } catch (err) {
        if (!(err instanceof MissingReadKeyError || err instanceof NotFoundError)) throw err;
      }
    }
  }
  return gained;
}

async function allocateGid(ctx: AuthContext, name: string): Promise<number> {
  const start = createHash('sha256').update(name).digest().readUInt32BE(0) % GID_SPAN;
  for (let i = 0; i < PROBES; i++) {
    const gid = GID_BASE + ((start + i) % GID_SPAN);
    const dio = await ctx.store.dio(`gid:${gid}`);
    if (dio.exists(objectKey.gid(gid))) continue;
    dio.store({ group: name }, { key: objectKey.gid(gid), readers: [{ kind: 'symmetric', key: ctx.store.master.read }] });
    await dio.commit();
    return gid;
  }
  throw new AuthError('no free gid left near this group name; choose another name');
}

export async function createGroup(ctx: AuthContext, token: string, rawGroup: string): Promise<CreateGroupResponse> {
  const claims = callerClaims(ctx, token);
  const email = callerEmail(claims);
  const name = checkedGroup(rawGroup);
  const s = claims.session;
  if (!s.sudo) throw new AuthError('creating a group needs a sudo token, whose key owns the group: get one with atefs token sudo (password and authenticator code)');
  const sudoRead = s.sudo.privateReadKeys[0];
  const nominalRead = s.user.privateReadKeys[0];
  if (!sudoRead || !nominalRead) throw new AuthError('the token holds no read keys; get a new one with atefs token sudo');
  return ctx.store.exclusive(async () => {
    if ((await ctx.store.dio(name)).exists(objectKey.group(name))) throw new AuthError(`group ${name} already exists; choose another name`);
    const gid = await allocateGid(ctx, name);
    const keys = new Map(STANDARD.map((p) => [p, newKeySet()]));
    const member = (k: PrivateReadKey): MemberRecord[] => [{ email, readKey: encodePublicReadKey(publicReadKey(k)) }];
    const roles: RoleRecord[] = STANDARD.map((purpose) => ({
      purpose,
      ...publicHalves(keys.get(purpose)!),
      members: purpose === 'owner' ? member(sudoRead) : purpose === 'delegate' ? member(nominalRead) : [],
    }));
    const record: GroupRecord = { name, gid, created: ctx.now(), roles };
    const dio = await ctx.store.dio(name);
    storeGroup(ctx, dio, record);
    for (const p of STANDARD) storeRoleKeys(dio, record, p, keys.get(p)!);
    await dio.commit();
    return { group: name, gid };
  });
}

/** A new token: the caller's, plus every role of the group its keys open. */
export async function gather(ctx: AuthContext, token: string, rawGroup: string): Promise<GatherResponse> {
  const claims = callerClaims(ctx, token);
  const name = checkedGroup(rawGroup);
  const record = await groupRecord(ctx, name);
  const gained = await gatherRoles(await ctx.store.chainFor(name), record, claims.session);
  if (gained.size === 0) {
    throw new AuthError(`${callerEmail(claims)} holds no role in group ${name}; an owner can add you with atefs group add-user ${name} <role> ${callerEmail(claims)}`);
  }
  const roles = ordered([...gained.keys()]);
  const session: AteSession = {
    ...claims.session,
    groups: [...claims.session.groups.filter((g) => g.name !== name), { name, roles: roles.map((p) => groupRoleOf(record, p, gained.get(p)!)) }],
  };
  return { token: reissue(ctx, claims, session), roles };
}

/** A token for a changed session that expires when the caller's token does. */
function reissue(ctx: AuthContext, claims: TokenClaims, session: AteSession): string {
  return issueToken(session, ctx.store.master.write, { now: ctx.now(), validForMs: MAX_TOKEN_VALIDITY_MS, notAfter: claims.expiresAt });
}

/** The group, the role and the caller's gathered roles, once the caller may change that role. */
async function authorize(ctx: AuthContext, req: GroupUserRequest) {
  const claims = callerClaims(ctx, req.token);
  const name = checkedGroup(req.group);
  const purpose = checkedPurpose(req.role);
  const email = checkedEmail(req.email);
  const record = await groupRecord(ctx, name);
  const chain = await ctx.store.chainFor(name);
  const gained = await gatherRoles(chain, record, claims.session);
  const needed = neededRoleFor(purpose);
  if (!gained.has(needed)) {
    const hint = needed === 'owner' && !claims.session.sudo ? ' (the owner role opens with a sudo token: atefs token sudo)' : '';
    throw new AuthError(`changing the ${purpose} members of group ${name} needs its ${needed} role, which your token does not open${hint}`);
  }
  return { claims, name, purpose, email, record, chain, gained };
}

export async function addUser(ctx: AuthContext, req: GroupUserRequest): Promise<Record<string, never>> {
  return ctx.store.exclusive(async () => {
    const { name, purpose, email, record, gained } = await authorize(ctx, req);
    const advert = await advertOf(ctx, email);
    const member: MemberRecord = { email, readKey: purpose === 'owner' ? advert.sudoReadKey : advert.readKey };
    const existing = record.roles.find((r) => r.purpose === purpose);
    if (existing?.members.some((m) => m.email === email)) throw new AuthError(`${email} is already a ${purpose} of group ${name}`);
    const keys = existing ? gained.get(purpose) : newKeySet();
    if (!keys) throw new AuthError(`the keys of role ${purpose} of group ${name} do not open with your token; gather the group again`);
    const roles = existing
      ? record.roles.map((r) => (r.purpose === purpose ? { ...r, members: [...r.members, member] } : r))
      : [...record.roles, { purpose, ...publicHalves(keys), members: [member] }];
    const updated: GroupRecord = { ...record, roles };
    const dio = await ctx.store.dio(name);
    storeGroup(ctx, dio, updated);
    storeRoleKeys(dio, updated, purpose, keys);
    await dio.commit();
    return {};
  });
}

export async function removeUser(ctx: AuthContext, req: GroupUserRequest): Promise<RemoveUserResponse> {
  return ctx.store.exclusive(async () => {
    const { name, purpose, email, record } = await authorize(ctx, req);
    const existing = record.roles.find((r) => r.purpose === purpose);
    if (!existing) throw new AuthError(`group ${name} has no ${purpose} role`);
    if (!existing.members.some((m) => m.email === email)) throw new AuthError(`${email} is not a ${purpose} of group ${name}`);
    if (purpose === 'owner' && existing.members.length === 1) throw new AuthError(`${email} is the last owner of group ${name}; add another owner first`);
    const rotated = closureOf(purpose, record.roles.map((r) => r.purpose));
    const fresh = new Map(rotated.map((p) => [p, newKeySet()]));
    const updated: GroupRecord = {
      ...record,
      roles: record.roles.map((r) => {
        const members = r.purpose === purpose ? r.members.filter((m) => m.email !== email) : r.members;
        const keys = fresh.get(r.purpose);
        return keys ? { ...r, ...publicHalves(keys), members } : { ...r, members };
      }),
    };
    const dio = await ctx.store.dio(name);
    storeGroup(ctx, dio, updated);
    for (const p of rotated) storeRoleKeys(dio, updated, p, fresh.get(p)!);
    await dio.commit();
    return { rotated };
  });
}

/** Public facts of a group; members too for a token that opens its owner or delegate role. */
export async function details(ctx: AuthContext, rawGroup: string, token?: string): Promise<DetailsResponse> {
  const name = checkedGroup(rawGroup);
  const record = await groupRecord(ctx, name);
  let showMembers = false;
  if (token !== undefined) {
    const gained = await gatherRoles(await ctx.store.chainFor(name), record, callerClaims(ctx, token).session);
    showMembers = gained.has('owner') || gained.has('delegate');
  }
  const delegate = record.roles.find((r) => r.purpose === 'delegate');
  if (!delegate) throw new AuthError(`group ${name} has no delegate role`);
  return {
    group: name,
    gid: record.gid,
    delegateSignKey: delegate.signKey,
    roles: ordered(record.roles.map((r) => r.purpose)).map((p) => {
      const r = record.roles.find((x) => x.purpose === p)!;
      return { purpose: p, signKey: r.signKey, readKey: r.readKey, ...(showMembers ? { members: r.members.map((m) => m.email) } : {}) };
    }),
  };
}
