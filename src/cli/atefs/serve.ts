// `atefs mount`: open (or create) the vault, mount it, serve until Ctrl-C, SIGTERM or an unmount
// from outside, then flush everything and exit 0. Runs in the foreground or as a daemon's child.
//
// Everything after the mount is asynchronous: a synchronous file call or child process in the
// process that serves a FUSE mount can deadlock it.
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ChainBuilder } from '../../core/chain/builder.js';
import type { Chain } from '../../core/chain/chain.js';
import { generateSymmetricKey, publicSignKey } from '../../core/crypto/index.js';
import { AteError } from '../../core/errors.js';
import { type AteSession, userSession } from '../../core/session/session.js';
import { CliError, EXIT_BUG, EXIT_INTERRUPTED } from '../run.js';
import { loadMountFs, type MountedFs } from './fs-api.js';
import { mountAt } from '../../fs/mount-table.js';
import { canonicalMountPoint, checkMountPoint, raiseReadAhead } from './mounts.js';
import type { MountPlan } from './options.js';
import { ateDataDir, shown, vaultNameFor } from './paths.js';
import { type Progress, noProgress } from './progress.js';
import { canPrompt, promptHidden } from './prompt.js';
import { type PastChain, iso, needsUnmounted, openPast } from './history.js';
import { type MountRecord, isAtefsAlive, lockVault, readRecord, recordPaths, removeFile, writeRecord } from './registry.js';
import { type FsAccess, openRemoteVault, type RemoteVault, replicaDirFor } from './remote-vault.js';
import type { GivenToken } from './token-source.js';
import { CHAIN_NAME, LOG_NAME, VAULT_LOAD_CACHE_BYTES, VAULT_SIGN_INTERVAL_MS, type GivenPasscode, type KeySource, type OpenedVault, type VaultKeys, keysOf, obtainPasscode, openVault, readVaultMeta } from './vault.js';

/** Where the mount reports to: the terminal (foreground) or the parent that started the daemon. */
export interface Reporter {
  /** A one-line notice for the user (stderr). */
  notice(line: string): void;
  /** Verbose detail (-v). */
  detail(line: string): void;
  /** The summary line once mounted. */
  mounted(line: string): void;
  /** Progress display while loading (a no-op off a terminal). */
  progress(initial: string): Promise<Progress>;
  readonly daemon: boolean;
  /** Whether passcodes may be asked for on the terminal. */
  readonly interactive: boolean;
}

const count = (n: number): string => n.toLocaleString('en-US');

function describeSource(source: KeySource): string {
  switch (source.kind) {
    case 'passcode':
      return source.from === 'prompt' ? 'opened by passcode' : `opened by the passcode in ${source.from}`;
    case 'key-file':
      return `key file ${shown(source.path)}`;
    case 'temporary':
      return 'temporary: in memory with a random key, gone on unmount';
    case 'token':
      return `opened by the token ${source.from.startsWith('-') || source.from === 'ATE_TOKEN' ? `in ${source.from}` : `of ${shown(source.from)}`}${source.group ? ` with the keys of group ${source.group}` : ''}`;
  }
}

/** The passcode given on the command line or in ATE_PASSCODE (an empty variable counts as none). */
export function givenPasscode(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): GivenPasscode | undefined {
  if (flag !== undefined) return { passcode: flag, from: '--passcode' };
  const fromEnv = env['ATE_PASSCODE'];
  return fromEnv ? { passcode: fromEnv, from: 'ATE_PASSCODE' } : undefined;
}

type Listener = Parameters<NodeJS.EventEmitter['on']>[1];

type Trigger = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'external' } | { kind: 'fatal'; error: unknown };

/**
 * Signals for the whole life of a mount: before the mount they cancel (once the step in progress
 * ends), after it they start the shutdown, during the shutdown they are answered with a note.
 */
class Lifecycle {
  private trigger: Trigger | undefined;
  private wake: ((t: Trigger) => void) | undefined;
  stopping = false;
  private readonly listeners: Array<[NodeJS.EventEmitter, string, Listener]> = [];

  constructor(private readonly reporter: Reporter, private readonly still: () => string) {
    // A closed terminal (SIGHUP) or pipe must not turn the flush into a crash.
    for (const stream of [process.stdout, process.stderr]) this.on(stream, 'error', () => undefined);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      this.on(process, signal, () => this.fire({ kind: 'signal', signal }));
    }
  }

  private on(emitter: NodeJS.EventEmitter, event: string, fn: Listener): void {
    emitter.on(event, fn);
    this.listeners.push([emitter, event, fn]);
  }

  /** From the mount on: an error nobody caught is fatal, but the mount is still flushed and removed. */
  catchFatal(): void {
    const fatal = (error: unknown): void => this.fire({ kind: 'fatal', error });
    this.on(process, 'uncaughtException', fatal);
    this.on(process, 'unhandledRejection', fatal);
  }

  fire(t: Trigger): void {
    if (this.stopping) {
      if (t.kind === 'signal') this.reporter.notice(this.still());
      else if (t.kind === 'fatal') console.error('atefs: internal error while unmounting (please report it):', t.error);
      return;
    }
    if (this.trigger) {
      if (t.kind === 'signal') this.reporter.notice('still opening the vault; it stops as soon as the current step ends');
      return;
    }
    this.trigger = t;
    this.wake?.(t);
  }

  /** Throws if a signal came before the mount was up. */
  checkCancelled(): void {
    if (this.trigger?.kind === 'signal') throw new CliError('interrupted; nothing was mounted', EXIT_INTERRUPTED);
    if (this.trigger?.kind === 'fatal') throw this.trigger.error;
  }

  next(): Promise<Trigger> {
    if (this.trigger) return Promise.resolve(this.trigger);
    return new Promise((resolve) => (this.wake = resolve));
  }

  dispose(): void {
    for (const [emitter, event, fn] of this.listeners.splice(0)) emitter.off(event, fn);
  }
}

export const vaultSession = (vault: VaultKeys): AteSession => userSession({ readKeys: [vault.vaultKey], writeKeys: [vault.writeKey] });

/** A local vault's chain has the write key as its root key: the filesystem names no writers. */
const localAccess = (vault: VaultKeys): FsAccess => ({ session: vaultSession(vault), rootReaders: [{ kind: 'symmetric', key: vault.vaultKey }] });

/**
 * The builder of a vault's chain: its log in the vault directory (or in memory), the write key as
 * the only root key, and no parentless objects but the root directory.
 */
export function vaultChainBuilder(
  plan: Pick<MountPlan, 'temp' | 'compactMode' | 'compactBootstrap' | 'configuredFor'>,
  vault: VaultKeys & { readonly dir: string },
): ChainBuilder {
  return new ChainBuilder({
    logPath: plan.temp ? undefined : vault.dir,
    temporal: plan.temp,
    compactMode: plan.compactMode,
    compactBootstrap: plan.compactBootstrap,
    loadCacheBytes: VAULT_LOAD_CACHE_BYTES,
    signIntervalMs: VAULT_SIGN_INTERVAL_MS,
  })
    .configuredFor(plan.configuredFor)
    .addRootPublicKey(publicSignKey(vault.writeKey))
    .setSession(vaultSession(vault));
}

/**
 * Mounts the vault of `plan` and serves it until told to stop; the exit code. A remote chain
 * opens by `token` when there is one, else by the passcode.
 */
export async function mountAndServe(plan: MountPlan, given: GivenPasscode | undefined, reporter: Reporter, token?: GivenToken): Promise<number> {
  const dataDir = ateDataDir();
  const mountPoint = await canonicalMountPoint(plan.mountPath);
  let phase = 'opening the vault';
  const life = new Lifecycle(reporter, () => `still ${phase}; wait for it to finish (kill -9 ${process.pid} would lose what is not flushed yet)`);
  const cleanups: Array<() => Promise<void>> = [];
  let progress: Progress = noProgress;
  let builder: ChainBuilder | undefined;
  let mounted: MountedFs | undefined;
  let watch: NodeJS.Timeout | undefined;
  try {
    await checkMountPoint(mountPoint, {
      nonEmpty: plan.nonEmpty,
      onStale: (p) => reporter.notice(`removed a dead mount at ${shown(p)} left by an atefs that was killed`),
    });
    life.checkCancelled();

    // One process per mount point.
    const paths = recordPaths(dataDir, mountPoint);
    const existing = await readRecord(paths.record);
    if (existing && existing.pid !== process.pid && (await isAtefsAlive(existing.pid))) {
      throw new CliError(`${shown(mountPoint)} is being mounted by atefs (pid ${existing.pid}); stop it with: atefs umount ${shown(mountPoint)}`);
    }
    const started = new Date().toISOString();
    const record = (state: MountRecord['state'], vaultDir?: string): MountRecord => ({
      pid: process.pid,
      mountPoint,
      ...(vaultDir ? { vaultDir } : {}),
      state,
      daemon: reporter.daemon,
      started,
    });
    await writeRecord(paths.record, record('starting'));
    cleanups.push(async () => {
      const r = await readRecord(paths.record);
      if (r?.pid === process.pid) await removeFile(paths.record);
    });

    // The vault: its keys, created on first use.
    let vault: Omit<OpenedVault, 'vaultKey' | 'writeKey'>;
    let access: FsAccess;
    /** The keys of a local vault (none for a remote one). */
    let keys: VaultKeys | undefined;
    let remote: RemoteVault | undefined;
    if (plan.remote !== undefined) {
      const dir = plan.logPath ?? replicaDirFor(dataDir, plan.remote, mountPoint);
      await mkdir(dir, { recursive: true, mode: 0o700 }).catch(() => undefined);
      cleanups.push(await lockVault(dir, mountPoint));
      progress = await reporter.progress(`connecting to ${plan.remote}`);
      const how = { plan: { ...plan, remote: plan.remote }, dir, notice: (line: string) => reporter.notice(line) };
      remote = token
        ? await (await import('./token-vault.js')).openTokenVault({ ...how, token })
        : await openRemoteVault({ ...how, mountPoint, given, prompt: reporter.interactive && canPrompt() ? promptHidden : undefined });
      const r = remote;
      cleanups.push(() => r.remote.close());
      vault = { dir, source: r.source, created: r.created };
      access = r;
      await writeRecord(paths.record, record('starting', dir));
    } else if (plan.temp) {
      keys = keysOf(generateSymmetricKey());
      vault = { dir: '', source: { kind: 'temporary' }, created: true };
      access = localAccess(keys);
    } else {
      const dir = plan.logPath ?? join(dataDir, vaultNameFor(mountPoint));
      const meta = await readVaultMeta(dir);
      if (plan.at && !meta) await requireVault(dir, mountPoint);
      const obtained = await obtainPasscode(dir, mountPoint, meta, given, reporter.interactive && canPrompt() ? promptHidden : undefined);
      life.checkCancelled();
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new CliError(`cannot create the vault directory ${shown(dir)}: ${(err as Error).message}`);
      }
      try {
        cleanups.push(await lockVault(dir, mountPoint));
      } catch (err) {
        throw plan.at ? needsUnmounted(err, 'time travel') : err;
      }
      progress = await reporter.progress(meta ? 'opening the vault' : 'creating the vault');
      const opened = await openVault(dir, mountPoint, meta, obtained, { readOnly: plan.readOnly });
      vault = opened;
      keys = opened;
      access = localAccess(opened);
      await writeRecord(paths.record, record('starting', dir));
    }
    reporter.detail(`vault ${vault.dir ? shown(vault.dir) : '(in memory)'}; ${describeSource(vault.source)}`);
    if (plan.impersonateUid && !access.globalIds) {
      reporter.notice('--impersonate-uid has no effect here: it maps the uid of a user logged in with a token, and this vault has none');
    }
    life.checkCancelled();

    // The chain.
    if (keys) builder = vaultChainBuilder(plan, { ...keys, dir: vault.dir }).onWarning((m) => reporter.notice(`warning: ${m}`));
    const loading = `${vault.created ? 'creating' : 'loading'} the vault${vault.dir ? ` ${shown(vault.dir)}` : ''}`;
    if (progress === noProgress) progress = await reporter.progress(loading);
    else progress.update({ phase: loading });
    const t0 = Date.now();
    let past: PastChain | undefined;
    if (plan.at && builder) {
      past = await openPast(builder, plan.at, mountPoint).catch((err: unknown) => {
        throw needsUnmounted(err, 'time travel');
      });
      cleanups.push(past.close);
    }
    const chain: Chain = remote ? remote.chain : past ? past.chain : await builder!.open(CHAIN_NAME);
    reporter.detail(`chain loaded in ${Date.now() - t0} ms: ${count(chain.count)} events, ${count(chain.view.objects.size)} objects`);
    life.checkCancelled();

    // The mount.
    progress.update({ phase: `mounting ${shown(mountPoint)}` });
    const mountFs = await loadMountFs();
    mounted = await mountFs({
      mountPoint,
      chain,
      session: access.session,
      rootReaders: access.rootReaders,
      ...(access.rootWriters ? { rootWriters: access.rootWriters } : {}),
      ...(plan.uid !== undefined ? { uid: plan.uid } : {}),
      ...(plan.gid !== undefined ? { gid: plan.gid } : {}),
      ...(plan.impersonateUid && access.globalIds ? { globalIds: access.globalIds } : {}),
      allowOther: plan.allowOther,
      allowRoot: plan.allowRoot,
      readOnly: plan.readOnly,
      writeBack: plan.writeBack,
      nonEmpty: plan.nonEmpty,
      scope: plan.scope,
      debug: plan.verbose >= 3,
      log: (line) => reporter.notice(line),
    }).catch((err: unknown) => {
      if (err instanceof AteError) throw err;
      // fuse-native and fusermount fail with plain Errors whose message is the cause.
      throw new CliError(`cannot mount ${shown(mountPoint)}: ${(err as Error)?.message ?? String(err)}`, 1, { cause: err });
    });
    life.catchFatal();
    await raiseReadAhead(mountPoint);
    await progress.stop();
    await writeRecord(paths.record, record('mounted', vault.dir || undefined));

    const how = reporter.daemon ? `atefs umount ${shown(mountPoint)} to unmount` : 'Ctrl-C to unmount';
    const details = [
      `${count(chain.view.objects.size)} objects`,
      ...(plan.readOnly ? ['read-only'] : []),
      ...(plan.remote ? [`server ${plan.remote}`] : []),
      ...(vault.dir ? [`${plan.remote ? 'replica' : 'log'} ${shown(vault.dir)}`] : []),
      describeSource(vault.source),
    ];
    const when = past ? ` as it was at ${iso(past.time)}` : '';
    reporter.mounted(`atefs: ${vault.created && !plan.temp ? 'new vault' : 'vault'} mounted at ${shown(mountPoint)}${when} (${details.join('; ')}); ${how}`);

    // Serve until told to stop, or until the mount is removed from outside (fusermount -u).
    watch = setInterval(() => {
      void mountAt(mountPoint).then((m) => {
        if (!m) life.fire({ kind: 'external' });
      });
    }, 1000);
    const trigger = await life.next();
    clearInterval(watch);
    watch = undefined;

    life.stopping = true;
    phase = `unmounting ${shown(mountPoint)} and flushing the vault`;
    await writeRecord(paths.record, record('unmounting', vault.dir || undefined));
    if (trigger.kind === 'external') reporter.notice(`${shown(mountPoint)} was unmounted from outside; flushing the vault`);
    else if (trigger.kind === 'fatal') console.error('atefs: internal error (please report it); unmounting and flushing:', trigger.error);
    else reporter.notice(`${phase}...`);
    const m = mounted;
    mounted = undefined;
    await unmountQuietly(m, trigger.kind === 'external', reporter);
    const b = builder;
    builder = undefined;
    await b?.close();
    if (remote) {
      const r = remote;
      remote = undefined;
      phase = `uploading the last changes to ${plan.remote}`;
      await r.remote.close();
    }
    reporter.notice(`unmounted ${shown(mountPoint)}${vault.dir && !past ? `; the vault is saved in ${shown(vault.dir)}` : ''}`);
    return trigger.kind === 'fatal' ? EXIT_BUG : 0;
  } finally {
    if (watch) clearInterval(watch);
    await progress.stop();
    // On failure: nothing stays mounted, nothing stays open, no record or lock stays behind.
    if (mounted) await unmountQuietly(mounted, false, reporter);
    if (builder) await builder.close().catch((err: unknown) => reporter.notice(`closing the vault failed: ${(err as Error)?.message ?? String(err)}`));
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    life.dispose();
  }
}

/** Time travel needs a vault with a past: refuses, with a clear line, a directory that has none. */
async function requireVault(dir: string, mountPoint: string): Promise<void> {
  try {
    await stat(join(dir, LOG_NAME));
  } catch {
    throw new CliError(`there is no vault for ${shown(mountPoint)} (looked in ${shown(dir)}): it has no past to travel to`);
  }
  // A log without its metadata: openVault says what to restore.
}

async function unmountQuietly(m: MountedFs, gone: boolean, reporter: Reporter): Promise<void> {
  try {
    await m.unmount();
  } catch (err) {
    // Already gone from outside: flush what the filesystem still holds instead.
    if (!gone) reporter.notice(`unmount failed: ${(err as Error)?.message ?? String(err)}`);
    await m.flush().catch(() => undefined);
  }
}
