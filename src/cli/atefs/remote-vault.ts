// A vault on an atedb: the chain lives on the server, a replica of it in a local directory.
// Opened by passcode (atedb --no-auth): the vault's salt and check value are a plaintext object in
// the chain itself, so everyone who knows the passcode opens the same vault from any machine.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChainBuilder } from '../../core/chain/builder.js';
import type { Chain } from '../../core/chain/chain.js';
import { type PublicSignKey, hash, publicSignKey, toHex } from '../../core/crypto/index.js';
import { Dio } from '../../core/dio/dio.js';
import { AteError } from '../../core/errors.js';
import { primaryKeyFromName } from '../../core/event/ids.js';
import { RemoteChain } from '../../core/mesh/client/index.js';
import { type AteSession, anonymousSession, userSession } from '../../core/session/session.js';
import { CliError, UsageError } from '../run.js';
import type { MountPlan } from './options.js';
import { shown } from './paths.js';
import type { Prompt } from './vault.js';
import type { ReaderKey } from '../../core/trust/keyring.js';
import type { GlobalIds } from '../../fs/owners.js';
import { VAULT_LOAD_CACHE_BYTES, type GivenPasscode, type KeySource, type VaultKeys, type VaultMeta, META_FILE, keysOf, newPasscodeMeta, tryPasscode, wrongPasscode } from './vault.js';

/** The object that holds the vault's metadata (salt, check value) in a remote chain. */
const VAULT_META_KEY = primaryKeyFromName('atefs:vault');

/** How the filesystem of a chain is read and written. */
export interface FsAccess {
  readonly session: AteSession;
  /** Who the filesystem's root (and so everything in it) is encrypted for. */
  readonly rootReaders: ReaderKey[];
  /** Who may write it, when that is not the chain's root key (a chain without root keys names its writers itself). */
  readonly rootWriters?: readonly PublicSignKey[];
  /** The logged-in user's ids from the auth server, for --impersonate-uid (token mounts only). */
  readonly globalIds?: GlobalIds;
}

export interface RemoteVault extends FsAccess {
  readonly remote: RemoteChain;
  readonly chain: Chain;
  /** Where the replica is kept. */
  readonly dir: string;
  readonly created: boolean;
  readonly source: KeySource;
}

/** The replica directory of a mount: one per chain URL and mount point (two mounts of a chain are two replicas). */
export function replicaDirFor(dataDir: string, url: string, mountPoint: string): string {
  return join(dataDir, 'replicas', toHex(hash(new TextEncoder().encode(`${url}\n${mountPoint}`))).slice(0, 16));
}

export interface RemoteOpenOptions {
  readonly plan: MountPlan & { readonly remote: string };
  readonly dir: string;
  readonly mountPoint: string;
  readonly given: GivenPasscode | undefined;
  readonly prompt: Prompt | undefined;
  readonly notice: (line: string) => void;
}

export async function openRemoteVault(o: RemoteOpenOptions): Promise<RemoteVault> {
  const { plan, dir } = o;
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw new CliError(`cannot create the replica directory ${shown(dir)}: ${(err as Error).message}`);
  });
  // The vault's metadata from an earlier mount: the keys are known before the replica opens.
  const cached = await readCachedMeta(dir);
  const passcode = o.given ?? (o.prompt ? { passcode: await o.prompt(`Passcode for ${plan.remote}: `), from: 'prompt' as const } : undefined);
  if (!passcode?.passcode) {
    throw new UsageError(
      `a remote vault is opened by a token (an atedb with auth: --token-path <file> or ATE_TOKEN) or by a passcode (an atedb without auth: ATE_PASSCODE=... or --passcode)`,
    );
  }
  let keys = cached ? await keysFor(cached, passcode, o.mountPoint) : undefined;
  const builder = new ChainBuilder({ logPath: dir, compactMode: plan.compactMode, compactBootstrap: plan.compactBootstrap, loadCacheBytes: VAULT_LOAD_CACHE_BYTES })
    .configuredFor(plan.configuredFor)
    .onWarning((m) => o.notice(`warning: ${m}`));
  if (keys) builder.setSession(sessionOf(keys));
  const remote = await connectReplica(o, builder);
  try {
    const chain = remote.chain;
    let created = false;
    let meta = await chainMeta(chain);
    if (!meta && cached) meta = cached;
    if (!meta) {
      if (plan.readOnly) throw new UsageError(`${plan.remote} holds no vault yet, and --read-only cannot create one; mount it once without --read-only`);
      const fresh = await newPasscodeMeta(passcode.passcode, o.mountPoint);
      meta = fresh.meta;
      keys = keysOf(fresh.key);
      const dio = new Dio(chain, anonymousSession());
      dio.store(meta, { key: VAULT_META_KEY, readers: 'everyone', writers: [publicSignKey(keys.writeKey)] });
      await dio.commit();
      created = true;
    }
    keys ??= await keysFor(meta, passcode, o.mountPoint);
    await writeFile(join(dir, META_FILE), JSON.stringify(meta, null, 2), { mode: 0o600 });
    return {
      remote,
      chain,
      dir,
      created,
      source: { kind: 'passcode', from: passcode.from },
      session: sessionOf(keys),
      rootReaders: [{ kind: 'symmetric', key: keys.vaultKey }],
      rootWriters: [publicSignKey(keys.writeKey)],
    };
  } catch (err) {
    await remote.close().catch(() => undefined);
    throw err;
  }
}

/** The replica of `o.plan.remote` kept in sync, with the connection's ups and downs as notices; closes `builder` on failure. */
export async function connectReplica(o: Pick<RemoteOpenOptions, 'plan' | 'notice'>, builder: ChainBuilder, token?: string): Promise<RemoteChain> {
  const { plan } = o;
  let lost = false;
  try {
    return await RemoteChain.open(builder, plan.remote, {
      recovery: plan.recoveryMode,
      encryption: plan.wireEncryption,
      ...(plan.serverFingerprint ? { fingerprint: plan.serverFingerprint } : {}),
      ...(token !== undefined ? { token } : {}),
      onWarning: (m) => o.notice(`warning: ${m}`),
      onStatus: (s, detail) => {
        if (s === 'disconnected') {
          lost = true;
          o.notice(`lost the connection to the server${detail ? ` (${detail})` : ''}; serving the local replica, reconnecting`);
        } else if (s === 'synced' && lost) {
          lost = false;
          o.notice(`reconnected to ${plan.remote}`);
        }
      },
    });
  } catch (err) {
    await builder.close().catch(() => undefined);
    if (err instanceof AteError) throw new CliError(err.message, 1, { cause: err });
    throw err;
  }
}

const sessionOf = (keys: VaultKeys): AteSession => userSession({ readKeys: [keys.vaultKey], writeKeys: [keys.writeKey] });

async function keysFor(meta: VaultMeta, given: GivenPasscode, mountPoint: string): Promise<VaultKeys> {
  const key = await tryPasscode(meta, given.passcode);
  if (!key) throw wrongPasscode(mountPoint, given.from);
  return keysOf(key);
}

async function chainMeta(chain: Chain): Promise<VaultMeta | undefined> {
  const dio = new Dio(chain, anonymousSession());
  if (!dio.exists(VAULT_META_KEY)) return undefined;
  return (await dio.load<VaultMeta>(VAULT_META_KEY)).value;
}

async function readCachedMeta(dir: string): Promise<VaultMeta | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, META_FILE), 'utf8')) as VaultMeta;
  } catch {
    return undefined;
  }
}
