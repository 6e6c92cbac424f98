// A vault on an atedb with auth, opened by a token. The chain is either personal,
// /<domain>/<user>/<db>, whose root key is the user's write key: the token's own keys read and
// write it; or a group chain, /<group>, whose root key is the group's delegate key: the group's
// keys are gathered from the auth server first. The token goes with every subscribe, and atedb
// checks it (docs/FORMAT.md "Auth").
import { mkdir } from 'node:fs/promises';
import { ChainBuilder } from '../../core/chain/builder.js';
import { publicSignKey } from '../../core/crypto/index.js';
import { parseChainUrl } from '../../core/mesh/routing.js';
import type { AteSession, GroupRole } from '../../core/session/session.js';
import { TokenError, type TokenClaims, parseToken } from '../../core/session/token.js';
import { ANCHOR_KEY } from '../../fs/model.js';
import { classifyChain } from '../../server/open-policy.js';
import { CliError } from '../run.js';
import { AuthClient, DEFAULT_AUTH_URL } from './auth-client.js';
import type { MountPlan } from './options.js';
import { shown } from './paths.js';
import { type FsAccess, type RemoteVault, connectReplica } from './remote-vault.js';
import { VAULT_LOAD_CACHE_BYTES } from './vault.js';
import { type GivenToken, verifiedToken } from './token-source.js';

export interface TokenOpenOptions {
  readonly plan: MountPlan & { readonly remote: string };
  readonly dir: string;
  readonly token: GivenToken;
  readonly notice: (line: string) => void;
}

export async function openTokenVault(o: TokenOpenOptions): Promise<RemoteVault> {
  const { plan, dir, token } = o;
  const claims = checkedLocally(token);
  const kind = chainKindOf(plan.remote);
  let access: FsAccess;
  let sent = token.text as string;
  if (kind.kind === 'group') {
    const gathered = await gather(plan, token, claims, kind.group);
    sent = gathered.text;
    access = groupAccess(gathered.session, kind.group);
  } else {
    const user = claims.session.user;
    // The chain's root key is the user's write key: no writers to name.
    access = {
      session: claims.session,
      rootReaders: user.readKeys.map((key) => ({ kind: 'symmetric' as const, key })),
      ...globalIdsOf(user.uid, user.gid),
    };
  }
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw new CliError(`cannot create the replica directory ${shown(dir)}: ${(err as Error).message}`);
  });
  const builder = new ChainBuilder({ logPath: dir, compactMode: plan.compactMode, compactBootstrap: plan.compactBootstrap, loadCacheBytes: VAULT_LOAD_CACHE_BYTES })
    .configuredFor(plan.configuredFor)
    .setSession(access.session)
    .onWarning((m) => o.notice(`warning: ${m}`));
  const remote = await connectReplica(o, builder, sent);
  const chain = remote.chain;
  const created = !chain.view.objects.has(ANCHOR_KEY);
  if (created && kind.kind === 'group' && !holds(access.session, kind.group, 'delegate')) {
    await remote.close().catch(() => undefined);
    throw new CliError(`${kind.key} holds no filesystem yet, and only a delegate of group ${kind.group} can create it: a delegate mounts it first`);
  }
  return { remote, chain, dir, created, source: { kind: 'token', from: token.from, ...(kind.kind === 'group' ? { group: kind.group } : {}) }, ...access };
}

/** What can be told without the auth server: a token, and a current one. atedb checks the rest. */
function checkedLocally(token: GivenToken): TokenClaims {
  try {
    const { claims } = parseToken(token.text);
    if (Date.now() >= claims.expiresAt) {
      throw new CliError(`${token.from}: the token expired on ${new Date(claims.expiresAt).toISOString()}; get a new one with atefs token generate`);
    }
    return claims;
  } catch (err) {
    if (err instanceof TokenError) throw new CliError(`${token.from}: ${err.message}`, 1, { cause: err });
    throw err;
  }
}

function chainKindOf(url: string): ReturnType<typeof classifyChain> {
  try {
    return classifyChain(parseChainUrl(url).chain);
  } catch (err) {
    throw new CliError(`${url}: ${(err as Error).message}`, 2, { cause: err });
  }
}

/** The token with the group's keys added, from the auth server the token names (or --auth). */
async function gather(plan: MountPlan, token: GivenToken, claims: TokenClaims, group: string): Promise<{ text: string; session: AteSession }> {
  const client = new AuthClient(plan.auth ?? claims.authUrl ?? DEFAULT_AUTH_URL, 256);
  try {
    await verifiedToken(client, token);
    const r = await client.gather(token.text, group);
    return { text: r.token, session: parseToken(r.token).claims.session };
  } finally {
    client.close();
  }
}

const rolesOf = (session: AteSession, group: string): readonly GroupRole[] => session.groups.find((g) => g.name === group)?.roles ?? [];

const holds = (session: AteSession, group: string, purpose: string): boolean => rolesOf(session, group).some((r) => r.purpose === purpose);

/**
 * A group's filesystem is encrypted for the delegate and observer roles (every member opens
 * observer: the roles above it open it) and written by the delegate and contributor roles. The
 * delegate creates it (the group chain's root key is the delegate's).
 */
function groupAccess(session: AteSession, group: string): FsAccess {
  const roles = rolesOf(session, group);
  const of = (purpose: string): GroupRole | undefined => roles.find((r) => r.purpose === purpose);
  const readers = [of('delegate'), of('observer')].flatMap((r) => r?.readKeys ?? []);
  const writers = [of('delegate'), of('contributor')].flatMap((r) => r?.writeKeys ?? []).map(publicSignKey);
  // Files of a group's filesystem belong to the group's gid.
  const gid = roles.find((r) => r.gid !== undefined)?.gid;
  return { session, rootReaders: readers.map((key) => ({ kind: 'symmetric' as const, key })), rootWriters: writers, ...globalIdsOf(session.user.uid, gid) };
}

/** The ids --impersonate-uid stores (a token without a uid has none). */
function globalIdsOf(uid: number | undefined, gid: number | undefined): Pick<FsAccess, 'globalIds'> {
  return uid === undefined ? {} : { globalIds: { uid, ...(gid !== undefined ? { gid } : {}) } };
}
