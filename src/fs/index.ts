// atefs: a FUSE filesystem whose directories and files live in an ATE chain.
//
//   const mounted = await mountFs({ mountPoint, chain, session, rootReaders });
//   ...
//   await mounted.unmount();   // flushes every open file and the chain (durable), then unmounts
//
// The model (see model.ts): inodes, directory entries and file chunks are objects under one
// anchor whose readers are `rootReaders`, so everything is encrypted for the vault's key.
import { readdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type AteSession, type Chain, ConfigError, type PublicSignKey, type ReaderKey } from '../core/index.js';
import { detach } from './detach.js';
import { AteFuse, makeOps, reporter } from './fuse.js';
import type { GlobalIds } from './owners.js';
import { Volume } from './volume.js';

export { errnoOf, FsError } from './errno.js';
export { DEFAULT_CHUNK_SIZE } from './model.js';
export type { GlobalIds } from './owners.js';
export { type FsHistoryEntry, type FsOperation, firstEventTime, fsHistory, identityOf } from './history.js';

export interface MountOptions {
  mountPoint: string;
  /** Opened by the caller; never closed here. */
  chain: Chain;
  /** Holds the vault's read key(s) and the write key. */
  session: AteSession;
  /** Who the root's data key is wrapped for (the vault key); everything below inherits. */
  rootReaders: ReaderKey[];
  /** Who may write the filesystem's anchor (and so everything): needed on a chain without root keys. */
  rootWriters?: readonly PublicSignKey[];
  /** Owner of new files (default: this process's uid/gid). */
  uid?: number;
  gid?: number;
  /** --impersonate-uid: files are stored with these ids and shown as `uid` and `gid` (owners.ts). */
  globalIds?: GlobalIds;
  allowOther?: boolean;
  allowRoot?: boolean;
  readOnly?: boolean;
  /** Accepted; writes are always buffered per file here (libfuse2 has no kernel writeback cache). */
  writeBack?: boolean;
  nonEmpty?: boolean;
  /** Commit scope of metadata operations; 'full' makes every operation durable before it returns. */
  scope?: 'local' | 'full';
  debug?: boolean;
  /** Chunk size of a new filesystem (an existing one keeps its own); for benchmarks. */
  chunkSize?: number;
  /** Where unexpected failures are reported (default: stderr). */
  log?: (line: string) => void;
}

export interface MountedFs {
  readonly mountPoint: string;
  unmount(): Promise<void>;
  /** Flushes all open handles' buffers and the chain (durable). */
  flush(): Promise<void>;
}

/** Attribute and entry cache time of the kernel, in seconds: fuse-native binds no invalidation. */
const CACHE_TIMEOUT_S = 1;
/** A request the filesystem has not answered after this long fails with ETIMEDOUT. */
const OP_TIMEOUT_MS = 300_000;

/** Checks the mount point (and clears a stale mount a killed process left) before mounting. */
async function checkMountPoint(mnt: string, nonEmpty: boolean): Promise<void> {
  let st;
  try {
    st = await stat(mnt);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN' || code === 'ECONNABORTED') {
      // A FUSE mount whose process died: detach it, then look again.
      await detach(mnt).catch((err: unknown) => {
        throw new ConfigError(`${mnt} is a dead FUSE mount and detaching it failed (${(err as Error).message}); try: fusermount -uz ${mnt}`);
      });
      return checkMountPoint(mnt, nonEmpty);
    }
    if (code === 'ENOENT') throw new ConfigError(`mount point ${mnt} does not exist; create it (mkdir -p ${mnt}) and mount again`);
    if (code === 'EACCES') throw new ConfigError(`mount point ${mnt} is not accessible (permission denied); choose a directory you own`);
    throw new ConfigError(`mount point ${mnt} cannot be used: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new ConfigError(`mount point ${mnt} is not a directory; give an empty directory to mount on`);
  const parent = await stat(dirname(mnt)).catch(() => undefined);
  if (parent && parent.dev !== st.dev && mnt !== '/') {
    throw new ConfigError(`${mnt} is already a mount point; unmount it first (atefs umount ${mnt} or fusermount -u ${mnt})`);
  }
  if (!nonEmpty) {
    const entries = await readdir(mnt);
    if (entries.length > 0) {
      throw new ConfigError(`mount point ${mnt} is not empty (${entries.length} entries); empty it, choose another directory, or pass --non-empty`);
    }
  }
}

/** The libfuse options of an atefs mount (also used, under another name, by the benchmark's bare fuse-native filesystem). */
export function fuseOptions(o: { readOnly: boolean; nonEmpty: boolean; name?: string }): string[] {
  const name = o.name ?? 'atefs';
  return [
    'big_writes',
    'max_write=131072',
    'max_read=131072',
    'use_ino',
    // The kernel checks mode bits against the caller (fuse-native exposes no caller context).
    'default_permissions',
    `attr_timeout=${CACHE_TIMEOUT_S}`,
    `entry_timeout=${CACHE_TIMEOUT_S}`,
    'negative_timeout=0',
    'auto_cache',
    `fsname=${name}`,
    `subtype=${name}`,
    ...(o.readOnly ? ['ro'] : []),
    ...(o.nonEmpty ? ['nonempty'] : []),
  ];
}

export async function mountFs(opts: MountOptions): Promise<MountedFs> {
  const mountPoint = resolve(opts.mountPoint);
  const readOnly = opts.readOnly ?? false;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await checkMountPoint(mountPoint, opts.nonEmpty ?? false);
  const vol = await Volume.open({
    chain: opts.chain,
    session: opts.session,
    rootReaders: opts.rootReaders,
    ...(opts.rootWriters ? { rootWriters: opts.rootWriters } : {}),
    uid: opts.uid ?? process.getuid?.() ?? 0,
    gid: opts.gid ?? process.getgid?.() ?? 0,
    ...(opts.globalIds ? { globalIds: opts.globalIds } : {}),
    readOnly,
    scope: opts.scope ?? 'local',
    ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
  });
  const report = reporter(log);
  vol.onBackgroundError = (err, what) => report('commit', what, err);

  const extra = fuseOptions({ readOnly, nonEmpty: opts.nonEmpty ?? false });
  const fuse = new AteFuse(
    mountPoint,
    makeOps(vol, report),
    {
      timeout: OP_TIMEOUT_MS,
      debug: opts.debug ?? false,
      ...(opts.allowOther ? { allowOther: true } : opts.allowRoot ? { allowRoot: true } : {}),
    },
    extra,
    vol,
    report,
  );
  try {
    await new Promise<void>((done, failed) => fuse.mount((err) => (err ? failed(err) : done())));
  } catch (err) {
    vol.close();
    const message = (err as Error)?.message ?? String(err);
    throw new ConfigError(
      `cannot mount ${mountPoint}: ${message}; check that /dev/fuse exists and fusermount is installed (Debian: apt-get install fuse libfuse2)${
        opts.allowOther || opts.allowRoot ? ', and that /etc/fuse.conf has user_allow_other' : ''
      }`,
      { cause: err },
    );
  }

  let unmounting: Promise<void> | undefined;
  return {
    mountPoint,
    flush: () => vol.flushAll(),
    unmount(): Promise<void> {
      unmounting ??= (async () => {
        let failure: unknown;
        try {
          await vol.flushAll();
        } catch (err) {
          failure = err;
        }
        await new Promise<void>((done) => fuse.unmount(() => done()));
        // Anything written between the flush and the unmount (a lazy unmount keeps open files served).
        await vol.flushAll().catch((err: unknown) => (failure ??= err));
        vol.close();
        if (failure !== undefined) throw failure;
      })();
      return unmounting;
    },
  };
}
