// The filesystem's logic, independent of FUSE: path resolution over cached directories, inodes,
// open files with their write buffers, and the transactions that put all of it in the chain.
//
// Consistency rules:
// - Every change to the chain goes through `lock` (one transaction at a time): namespace
//   operations compute their changes, commit them, then apply them to the caches in `ok` hooks;
//   so the caches and the chain agree whenever the lock is free.
// - File data is written to memory first (per-inode dirty chunks, shared by every handle of the
//   inode, so reads see it) and committed on flush, fsync, release, a timer and a size bound.
//   Any transaction that writes an inode also writes its dirty chunks, so a stored size never
//   runs ahead of stored data.
import { randomInt } from 'node:crypto';
import { statfs as statfsAsync } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AteSession,
  type Chain,
  type CollectionId,
  Dio,
  MissingReadKeyError,
  type PrimaryKey,
  type PublicSignKey,
  type ReaderKey,
  readerKeyId,
} from '../core/index.js';
import {
  E2BIG,
  EBADF,
  EBUSY,
  EEXIST,
  EFBIG,
  EINVAL,
  EISDIR,
  ENAMETOOLONG,
  ENODATA,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
  EOPNOTSUPP,
  EPERM,
  ERANGE,
  EROFS,
  fail,
} from './errno.js';
import {
  ANCHOR_KEY,
  type AnchorValue,
  CHUNKS,
  type ChunkValue,
  DEFAULT_CHUNK_SIZE,
  DENTRIES,
  type DentryValue,
  INODES,
  type InodeValue,
  ORPHANS,
  ROOT_INO,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  chunkKey,
  dentryKey,
  inodeKey,
  isDir,
  isLink,
  isReg,
} from './model.js';
import { type GlobalIds, Owners } from './owners.js';
import { ByteLru, Mutex } from './util.js';

export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_TRUNC = 0o1000;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

const NAME_MAX = 255;
const PATH_MAX = 4096;
const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const MAX_FILE_SIZE = 2 ** 50;
/** Dirty bytes of one file that make a write commit before it returns. */
const FILE_DIRTY_LIMIT = 8 * 1024 * 1024;
/** A file with dirty data, or an inode with changed attributes, is committed this long after the first change. */
const COMMIT_DELAY_MS = 1000;
/** Inodes with changed attributes committed per transaction (tar x sets the times of every directory at the end). */
const CHANGED_PER_COMMIT = 1024;
/** Smallest dirty buffer of a chunk (they grow by doubling up to the chunk size). */
const MIN_DIRTY_BUFFER = 4096;
/** Chunks decrypted ahead of a sequential reader: the log reads overlap with the decryption of earlier ones. */
const READ_AHEAD_CHUNKS = 4;
/**
 * Decrypted chunks kept for reads: the read-ahead of sequential readers and the chunks that partial
 * writes complete; the kernel's page cache keeps file data across opens (auto_cache). Peak RSS
 * after tar x of 15,000 files: 333 MiB with 32 MiB here, 316 with 8; dd read alike.
 */
const CHUNK_CACHE_BYTES = 8 * 1024 * 1024;
/** fuse-native turns UTIME_NOW and UTIME_OMIT (tv_sec 0, tv_nsec near 2^30) into this many ms. */
const UTIME_SPECIAL_MS = 1073;
/** Directory paths remembered for path resolution (see dirPaths). */
const DIR_PATHS_MAX = 65536;
/** Dentries loaded per batch when a directory is first listed. */
const DIR_LOAD_BATCH = 512;
/** libfuse renames a file unlinked while open to this (unless hard_remove), then unlinks it at its last close. */
const HIDDEN_NAME = /^\.fuse_hidden[0-9a-f]{16}$/;
/** close(2) returns before the kernel sends RELEASE, so rmdir waits this long for a just-closed hidden file to go. */
const RELEASE_GRACE_MS = 1000;

let generations = 0;
const nextGen = (): number => ++generations;

export interface Entry {
  inode: PrimaryKey;
  ino: number;
  type: number;
}

export class FileState {
  refs = 0;
  /** Chunk index -> a buffer of at most a chunk, zero past the data (and implicitly past its end). */
  dirty = new Map<number, Buffer>();
  /** The chunks of a commit under way (still what reads must see). */
  committing: Map<number, Buffer> | undefined;
  /** Stored chunks to delete at the next commit (a shrinking truncate). */
  deletes = new Set<number>();
  dirtyBytes = 0;
  /** Size or times changed since the last commit. */
  metaDirty = false;
  /** Chunks being read in before a partial write. */
  readonly pending = new Map<number, Promise<void>>();
  timer: NodeJS.Timeout | undefined;

  get isDirty(): boolean {
    return this.dirty.size > 0 || this.deletes.size > 0 || this.metaDirty;
  }
}

export class Inode {
  /** Names cached chunks: a truncate or a remote change takes a new one. */
  gen = nextGen();
  dir: Map<string, Entry> | undefined;
  /** Bumped by every change to the entries, so that a directory load that raced one starts again. */
  dirGen = 0;
  file: FileState | undefined;
  deleted = false;
  /** Counts reloads after remote changes, so that an older one finishing late is dropped. */
  reloads = 0;

  constructor(
    readonly key: PrimaryKey,
    public v: InodeValue,
    public collection: CollectionId,
  ) {}
}

interface InodeWrite {
  node: Inode;
  patch: Partial<InodeValue>;
  collection?: CollectionId;
}

/** One transaction: inode writes are gathered (and merged) and staged at commit. */
class Txn {
  readonly inodes = new Map<PrimaryKey, InodeWrite>();
  readonly deletes = new Map<PrimaryKey, Inode>();
  readonly okHooks: (() => void)[] = [];
  readonly failHooks: (() => void)[] = [];

  constructor(readonly dio: Dio) {}

  putInode(node: Inode, patch: Partial<InodeValue> = {}, collection?: CollectionId): void {
    const w = this.inodes.get(node.key);
    if (w) {
      Object.assign(w.patch, patch);
      if (collection !== undefined) w.collection = collection;
    } else this.inodes.set(node.key, { node, patch: { ...patch }, ...(collection !== undefined ? { collection } : {}) });
  }

  /** The patch this transaction has for an inode so far (to build on it). */
  current(node: Inode): InodeValue {
    return { ...node.v, ...this.inodes.get(node.key)?.patch };
  }

  deleteInode(node: Inode): void {
    this.inodes.delete(node.key);
    this.deletes.set(node.key, node);
  }

  putDentry(dir: Inode, value: DentryValue): void {
    this.dio.make(value, { key: dentryKey(dir.key, value.name), parent: { key: dir.key, collection: DENTRIES } }).commit();
  }

  deleteDentry(dir: Inode, name: string): void {
    this.dio.delete(dentryKey(dir.key, name));
  }

  ok(fn: () => void): void {
    this.okHooks.push(fn);
  }

  fail(fn: () => void): void {
    this.failHooks.push(fn);
  }
}

export interface VolumeOptions {
  chain: Chain;
  session: AteSession;
  rootReaders: readonly ReaderKey[];
  rootWriters?: readonly PublicSignKey[];
  uid: number;
  gid: number;
  /** --impersonate-uid: store these ids for the local owner's (owners.ts). */
  globalIds?: GlobalIds;
  readOnly: boolean;
  scope: 'local' | 'full';
  /** Chunk size of a new filesystem (an existing one keeps its own). */
  chunkSize?: number;
}

export interface Stat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  rdev: number;
  blksize: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

interface Handle {
  node: Inode;
  writable: boolean;
}

export class Volume {
  readonly chain: Chain;
  readonly session: AteSession;
  readonly readOnly: boolean;
  readonly scope: 'local' | 'full';
  chunkSize = DEFAULT_CHUNK_SIZE;
  private readonly owners: Owners;
  private readonly lock = new Mutex();
  private readonly inodes = new Map<PrimaryKey, Inode>();
  private readonly inodeLoads = new Map<PrimaryKey, Promise<Inode>>();
  /** Inodes a remote change reached while they were loading: the load read an older version and starts again. */
  private readonly staleLoads = new Set<PrimaryKey>();
  private readonly dirLoads = new Map<PrimaryKey, Promise<Map<string, Entry>>>();
  private readonly cache = new ByteLru<string, Buffer>(CHUNK_CACHE_BYTES);
  private readonly chunkLoads = new Map<string, Promise<Buffer | undefined>>();
  private readonly handles = new Map<number, Handle>();
  /** Paths libfuse gave to files unlinked while open (see HIDDEN_NAME) -> their inode. */
  private readonly hidden = new Map<string, PrimaryKey>();
  /** Inodes whose attributes changed in memory only (see patch). */
  private readonly changed = new Set<Inode>();
  /**
   * Paths of directories resolved before -> their inode, so that resolving a path costs one
   * lookup in its directory. Cleared whenever a directory may have moved or gone.
   */
  private readonly dirPaths = new Map<string, Inode>();
  private changedTimer: NodeJS.Timeout | undefined;
  private nextFd = 1;
  private rootNode!: Inode;
  private stopListening: (() => void) | undefined;
  /** Reports failures of background commits (the timer). */
  onBackgroundError: (err: unknown, what: string) => void = () => undefined;

  private constructor(opts: VolumeOptions) {
    this.chain = opts.chain;
    this.session = opts.session;
    this.owners = new Owners(opts.uid, opts.gid, opts.globalIds);
    this.readOnly = opts.readOnly;
    this.scope = opts.scope;
  }

  /** Opens the filesystem in a chain, creating it on first use, and removes what a crash left. */
  static async open(opts: VolumeOptions): Promise<Volume> {
    const vol = new Volume(opts);
    await vol.init(opts);
    return vol;
  }

  get root(): Inode {
    return this.rootNode;
  }

  /** Open handles (for tests and the unmount report). */
  get openHandles(): number {
    return this.handles.size;
  }

  private dio(): Dio {
    return new Dio(this.chain, this.session, 'local');
  }

  private async init(opts: VolumeOptions): Promise<void> {
    const { chain } = this;
    if (!chain.view.objects.has(ANCHOR_KEY)) {
      if (opts.readOnly) throw new MissingReadKeyError(`chain ${chain.key} holds no atefs filesystem yet; mount it once without read-only to create it`);
      const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
      if (!Number.isInteger(chunkSize) || chunkSize < 4096 || chunkSize > 16 * 1024 * 1024) {
        throw new RangeError(`chunk size ${chunkSize} is out of range (4 KiB to 16 MiB)`);
      }
      const now = Date.now();
      const dio = this.dio();
      const anchor: AnchorValue = { format: 'atefs', version: 1, chunkSize, created: now };
      dio.store(anchor, { key: ANCHOR_KEY, readers: opts.rootReaders, ...(opts.rootWriters ? { writers: opts.rootWriters } : {}) });
      const root: InodeValue = {
        ino: ROOT_INO,
        mode: S_IFDIR | 0o755,
        uid: this.owners.newUid,
        gid: this.owners.newGid,
        size: 0,
        nlink: 2,
        atime: now,
        mtime: now,
        ctime: now,
        btime: now,
        parent: inodeKey(ROOT_INO),
      };
      dio.store(root, { key: inodeKey(ROOT_INO), parent: { key: ANCHOR_KEY, collection: INODES } });
      await dio.commit();
      await chain.sync();
    }
    // The anchor is the filesystem's one parentless object; from here on everything has a parent.
    chain.disableNewRoots();
    const anchor = await this.dio()
      .load<AnchorValue>(ANCHOR_KEY)
      .catch((err: unknown) => {
        if (err instanceof MissingReadKeyError) {
          throw new MissingReadKeyError(`the filesystem in chain ${chain.key} is encrypted for other keys: wrong passcode or key file`, { cause: err });
        }
        throw err;
      });
    if (anchor.value?.format !== 'atefs') throw new MissingReadKeyError(`chain ${chain.key} holds something other than an atefs filesystem at its root`);
    this.chunkSize = anchor.value.chunkSize;
    if (!opts.readOnly) await this.rekeyAnchor(opts.rootReaders);
    this.rootNode = await this.inode(inodeKey(ROOT_INO));
    if (!opts.readOnly) await this.removeOrphans();
    this.stopListening = chain.onEvent((event, _ordinal, origin) => {
      if (origin !== 'local') this.invalidate(event.meta.key ?? event.meta.tombstone, event.meta.parent);
    });
  }

  /**
   * The readers of the filesystem changed since it was created (a group role's keys were replaced
   * when a member left): a session that can still read it rekeys it for exactly the readers it was
   * mounted with. The remaining members read everything again; what is written from now on is under
   * a data key the old readers never had.
   */
  private async rekeyAnchor(readers: readonly ReaderKey[]): Promise<void> {
    const own = this.chain.view.objects.get(ANCHOR_KEY)?.auth?.read;
    if (own?.kind !== 'specific' || readers.length === 0) return;
    const current = new Set(own.readers.map((r) => r.keyId));
    if (readers.every((r) => current.has(readerKeyId(r)))) return;
    const dio = this.dio();
    dio.rekey(await dio.load<AnchorValue>(ANCHOR_KEY), readers);
    await dio.commit();
  }

  /** Files unlinked while open when the last mount ended: nobody can open them any more. */
  private async removeOrphans(): Promise<void> {
    const keys = [...this.chain.view.childrenOf(ANCHOR_KEY, ORPHANS)];
    if (keys.length === 0) return;
    await this.lock.run(async () => {
      const dio = this.dio();
      for (const key of keys) {
        for (const c of [...this.chain.view.childrenOf(key, CHUNKS)]) dio.delete(c);
        dio.delete(key);
      }
      await dio.commit();
    });
  }

  /** Another node changed the chain: drop what the caches hold about it. */
  private invalidate(key: PrimaryKey | undefined, parent: { key: PrimaryKey; collection: CollectionId } | undefined): void {
    this.dirPaths.clear();
    if (key !== undefined) {
      if (this.inodeLoads.has(key)) this.staleLoads.add(key);
      const node = this.inodes.get(key);
      if (node && !node.file && !this.changed.has(node) && node !== this.rootNode) this.inodes.delete(key);
      else if (node) {
        // Open or root: reload its value in the background; only the latest reload lands.
        const reload = ++node.reloads;
        void this.dio()
          .load<InodeValue>(key)
          .then((d) => {
            if (node.reloads !== reload) return;
            node.v = { ...d.value, size: node.file?.isDirty ? node.v.size : d.value.size };
            node.gen = nextGen();
          })
          .catch(() => undefined);
      }
    }
    if (parent?.collection === DENTRIES) {
      const dir = this.inodes.get(parent.key);
      if (dir) {
        dir.dir = undefined;
        dir.dirGen++;
      }
    } else if (parent?.collection === CHUNKS) {
      const node = this.inodes.get(parent.key);
      if (node) node.gen = nextGen();
    } else if (parent === undefined) {
      // A tombstone whose parent is unknown now: forget every directory listing.
      for (const n of this.inodes.values()) {
        if (n.dir) {
          n.dir = undefined;
          n.dirGen++;
        }
      }
    }
  }

  close(): void {
    this.stopListening?.();
    this.stopListening = undefined;
    for (const n of this.inodes.values()) if (n.file?.timer) clearTimeout(n.file.timer);
    if (this.changedTimer) clearTimeout(this.changedTimer);
  }

  // ---------------------------------------------------------------- loading

  async inode(key: PrimaryKey): Promise<Inode> {
    const hit = this.inodes.get(key);
    if (hit) return hit;
    let p = this.inodeLoads.get(key);
    if (!p) {
      p = (async () => {
        for (;;) {
          const dao = await this.dio().load<InodeValue>(key);
          const again = this.inodes.get(key);
          if (again) return again;
          if (this.staleLoads.delete(key)) continue;
          const node = new Inode(key, dao.value, dao.parent?.collection ?? INODES);
          this.inodes.set(key, node);
          return node;
        }
      })();
      this.inodeLoads.set(key, p);
      const settled = (): void => {
        this.inodeLoads.delete(key);
        this.staleLoads.delete(key);
      };
      p.then(settled, settled);
    }
    return p;
  }

  async dirMap(node: Inode): Promise<Map<string, Entry>> {
    if (node.dir) return node.dir;
    if (!isDir(node.v.mode)) fail(ENOTDIR);
    let p = this.dirLoads.get(node.key);
    if (!p) {
      p = this.loadDir(node);
      this.dirLoads.set(node.key, p);
      p.then(
        () => this.dirLoads.delete(node.key),
        () => this.dirLoads.delete(node.key),
      );
    }
    return p;
  }

  private async loadDir(node: Inode): Promise<Map<string, Entry>> {
    for (;;) {
      const gen = node.dirGen;
      const keys = [...this.chain.view.childrenOf(node.key, DENTRIES)];
      const map = new Map<string, Entry>();
      const dio = this.dio();
      for (let i = 0; i < keys.length; i += DIR_LOAD_BATCH) {
        const daos = await dio.loadMany<DentryValue>(keys.slice(i, i + DIR_LOAD_BATCH));
        for (const d of daos) map.set(d.value.name, { inode: d.value.inode, ino: d.value.ino, type: d.value.type });
      }
      if (node.dir) return node.dir;
      if (node.dirGen !== gen) continue;
      node.dir = map;
      this.prefetchInodes(map);
      return map;
    }
  }

  /**
   * Loads the inodes of a directory's entries in the background: a listing is mostly followed
   * by a stat or an open of each entry (ls -l, find, cp -r, rm -r), whose lookups then find
   * them loaded or on the way instead of reading the log one request at a time.
   */
  private prefetchInodes(entries: Map<string, Entry>): void {
    const keys: PrimaryKey[] = [];
    for (const e of entries.values()) if (!this.inodes.has(e.inode) && !this.inodeLoads.has(e.inode)) keys.push(e.inode);
    if (keys.length === 0) return;
    void (async () => {
      for (let i = 0; i < keys.length; i += DIR_LOAD_BATCH) {
        await Promise.all(keys.slice(i, i + DIR_LOAD_BATCH).map((k) => this.inode(k).catch(() => undefined)));
      }
    })();
  }

  // ---------------------------------------------------------------- paths

  private static parts(path: string): string[] {
    if (Buffer.byteLength(path) >= PATH_MAX) fail(ENAMETOOLONG);
    const parts = path.split('/').filter((p) => p !== '');
    for (const p of parts) if (Buffer.byteLength(p) > NAME_MAX) fail(ENAMETOOLONG);
    return parts;
  }

  async lookup(path: string): Promise<Inode> {
    const hiddenKey = this.hidden.get(path);
    if (hiddenKey !== undefined) {
      const n = this.inodes.get(hiddenKey);
      if (n && !n.deleted) return n;
      fail(ENOENT);
    }
    return this.lookupInDirPath(path) ?? this.walk(path);
  }

  /** A path whose directory's path was resolved before, when its inode is in memory (undefined: walk it). */
  private lookupInDirPath(path: string): Inode | undefined {
    const slash = path.lastIndexOf('/');
    // Short enough in UTF-16 units that no byte length can exceed the limits (checked by the walk otherwise).
    if (slash < 0 || slash === path.length - 1 || path.length * 3 >= PATH_MAX || (path.length - slash - 1) * 3 > NAME_MAX) return undefined;
    const dir = slash === 0 ? this.rootNode : this.dirPaths.get(path.slice(0, slash));
    if (!dir?.dir || dir.deleted) return undefined;
    const e = dir.dir.get(path.slice(slash + 1));
    if (!e) fail(ENOENT);
    const node = this.inodes.get(e.inode);
    if (node && isDir(node.v.mode)) this.rememberDir(path, node);
    return node;
  }

  private rememberDir(path: string, node: Inode): void {
    // A bound on memory: past it, start again (the paths in use come back at once).
    if (this.dirPaths.size >= DIR_PATHS_MAX) this.dirPaths.clear();
    this.dirPaths.set(path, node);
  }

  private async walk(path: string): Promise<Inode> {
    const parts = Volume.parts(path);
    let node = this.rootNode;
    let at = 0;
    // Without an await while the directories and inodes on the way are cached (nearly every
    // request): a promise per path step was a good part of the cost of a getattr.
    for (; at < parts.length; at++) {
      if (!isDir(node.v.mode)) fail(ENOTDIR);
      if (!node.dir) break;
      const e = node.dir.get(parts[at]!);
      if (!e) fail(ENOENT);
      const next = this.inodes.get(e.inode);
      if (!next) break;
      node = next;
    }
    for (; at < parts.length; at++) {
      if (!isDir(node.v.mode)) fail(ENOTDIR);
      const e = (await this.dirMap(node)).get(parts[at]!);
      if (!e) fail(ENOENT);
      node = await this.inode(e.inode);
    }
    if (isDir(node.v.mode) && node !== this.rootNode && !node.deleted) this.rememberDir(path, node);
    return node;
  }

  /** The directory that holds (or would hold) a path, and the path's last name. */
  async parentOf(path: string): Promise<{ dir: Inode; name: string; entries: Map<string, Entry> }> {
    const parts = Volume.parts(path);
    const name = parts.pop();
    if (name === undefined) fail(EBUSY); // the root itself
    const dir = parts.length === 0 ? this.rootNode : await this.lookup(`/${parts.join('/')}`);
    if (!isDir(dir.v.mode)) fail(ENOTDIR);
    return { dir, name, entries: await this.dirMap(dir) };
  }

  // ---------------------------------------------------------------- transactions

  /** Runs a namespace change: under the lock, committed, then applied to the caches. */
  private async mutate<T>(fn: (tx: Txn) => Promise<T> | T): Promise<T> {
    if (this.readOnly) fail(EROFS);
    const result = await this.lock.run(() => this.transact(fn));
    if (this.scope === 'full') await this.chain.flush(true);
    return result;
  }

  /** With the lock held. */
  private async transact<T>(fn: (tx: Txn) => Promise<T> | T): Promise<T> {
    const tx = new Txn(this.dio());
    let result: T;
    try {
      result = await fn(tx);
      this.stage(tx);
    } catch (err) {
      tx.dio.cancel();
      throw err;
    }
    try {
      await tx.dio.commit();
    } catch (err) {
      tx.dio.cancel();
      for (const f of tx.failHooks) f();
      throw err;
    }
    for (const f of tx.okHooks) f();
    return result;
  }

  private stage(tx: Txn): void {
    const CS = this.chunkSize;
    for (const { node, patch, collection } of tx.inodes.values()) {
      const v: InodeValue = { ...node.v, ...patch };
      const coll = collection ?? node.collection;
      tx.dio.make(v, { key: node.key, parent: { key: ANCHOR_KEY, collection: coll } }).commit();
      tx.ok(() => {
        Object.assign(node.v, patch);
        node.collection = coll;
      });
      // `v` carries the attribute changes made in memory: from here they are this commit's.
      if (this.changed.delete(node)) tx.fail(() => this.markChanged(node));
      const file = node.file;
      if (!file?.isDirty) continue;
      for (const i of file.deletes) tx.dio.delete(chunkKey(node.key, i));
      const staged = new Map<number, Buffer>();
      for (const [i, buf] of file.dirty) {
        const len = Math.min(CS, v.size - i * CS);
        if (len <= 0) continue;
        const d = buf.subarray(0, len);
        staged.set(i, d);
        const value: ChunkValue = { i, d };
        tx.dio.make(value, { key: chunkKey(node.key, i), parent: { key: node.key, collection: CHUNKS } }).commit();
      }
      const snapshot = file.dirty;
      const deletes = file.deletes;
      const gen = node.gen;
      file.committing = snapshot;
      file.dirty = new Map();
      file.deletes = new Set();
      file.dirtyBytes = 0;
      file.metaDirty = false;
      if (file.timer) {
        clearTimeout(file.timer);
        file.timer = undefined;
      }
      tx.ok(() => {
        if (file.committing === snapshot) file.committing = undefined;
        if (node.gen !== gen) return;
        for (const [i, d] of staged) {
          const ck = `${gen}:${i}`;
          this.chunkLoads.delete(ck);
          // A copy when `d` is a view of a larger buffer: the cache counts only d.length.
          if (!file.dirty.has(i)) this.cache.set(ck, d.length === d.buffer.byteLength ? d : Buffer.from(d));
        }
      });
      tx.fail(() => {
        if (file.committing === snapshot) file.committing = undefined;
        for (const [i, b] of snapshot) {
          if (!file.dirty.has(i)) {
            file.dirty.set(i, b);
            file.dirtyBytes += b.length;
          }
        }
        for (const i of deletes) if (!file.dirty.has(i)) file.deletes.add(i);
        file.metaDirty = true;
      });
    }
    for (const node of tx.deletes.values()) {
      for (const c of [...this.chain.view.childrenOf(node.key, CHUNKS)]) tx.dio.delete(c);
      tx.dio.delete(node.key);
      tx.ok(() => {
        node.deleted = true;
        if (isDir(node.v.mode)) this.dirPaths.clear();
        this.changed.delete(node);
        if (node.file?.timer) clearTimeout(node.file.timer);
        node.file = undefined;
        node.dir = undefined;
        node.gen = nextGen();
        this.inodes.delete(node.key);
        for (const [p, k] of this.hidden) if (k === node.key) this.hidden.delete(p);
      });
    }
  }

  /** Commits an inode's dirty data, size and attributes (nothing if clean); durable with `durable` or scope full. */
  async commitFile(node: Inode, durable = false): Promise<void> {
    const dirty = (): boolean => (node.file?.isDirty === true || this.changed.has(node)) && !node.deleted;
    if (dirty() && !this.readOnly) {
      await this.lock.run(() =>
        dirty()
          ? this.transact((tx) => {
              tx.putInode(node);
            })
          : undefined,
      );
    }
    // Durable once fdatasync'ed and sealed; the signature follows (a crash before it is repaired on open).
    if (durable || this.scope === 'full') await this.chain.flush(true);
  }

  /** Commits every open file, then makes the chain durable. */
  async flushAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const node of [...this.inodes.values()]) {
      if (node.file?.isDirty) await this.commitFile(node).catch((e: unknown) => errors.push(e));
    }
    await this.commitChanged().catch((e: unknown) => errors.push(e));
    await this.chain.sync();
    if (errors.length > 0) throw errors[0];
  }

  // ---------------------------------------------------------------- attributes

  stat(node: Inode): Stat {
    const v = node.v;
    const CS = this.chunkSize;
    let size = v.size;
    let blocks = 0;
    if (isDir(v.mode)) size = 4096;
    if (isReg(v.mode)) {
      // Stored chunks (holes take no space); dirty chunks count as stored, at worst once too many.
      const chunks = this.chain.view.childrenOf(node.key, CHUNKS).size + (node.file?.dirty.size ?? 0);
      blocks = Math.ceil(Math.min(v.size, chunks * CS) / 512);
    } else blocks = Math.ceil(size / 512);
    return {
      mode: v.mode,
      uid: this.owners.shownUid(v.uid),
      gid: this.owners.shownGid(v.gid),
      size,
      nlink: v.nlink,
      ino: v.ino,
      rdev: v.rdev ?? 0,
      blksize: 131072,
      blocks,
      atime: v.atime,
      mtime: v.mtime,
      ctime: v.ctime,
    };
  }

  async getattr(path: string): Promise<Stat> {
    return this.stat(await this.lookup(path));
  }

  /**
   * getattr without a promise when everything on the way is in memory (most of the calls: libfuse
   * asks for the attributes after every lookup, create and setattr); undefined: use getattr.
   * Throws like getattr.
   */
  getattrCached(path: string): Stat | undefined {
    const node = this.lookupCached(path);
    return node && this.stat(node);
  }

  /** The inode at a path when it resolves without loading anything (see lookupInDirPath). */
  private lookupCached(path: string): Inode | undefined {
    return this.hidden.has(path) ? undefined : this.lookupInDirPath(path);
  }

  async fgetattr(fd: number): Promise<Stat> {
    return this.stat(this.handle(fd).node);
  }

  async access(path: string, mode: number): Promise<void> {
    await this.lookup(path);
    if (mode & 2 && this.readOnly) fail(EROFS);
  }

  async statfs(): Promise<StatFs> {
    const bsize = 4096;
    let blocks: number;
    let bfree: number;
    let bavail: number;
    const logPath = this.chain.config.logPath;
    if (logPath !== undefined && !this.chain.config.temporal) {
      const s = await statfsAsync(logPath);
      blocks = Math.floor((s.blocks * s.bsize) / bsize);
      bfree = Math.floor((s.bfree * s.bsize) / bsize);
      bavail = Math.floor((s.bavail * s.bsize) / bsize);
    } else {
      blocks = Math.floor(totalmem() / bsize);
      bfree = bavail = Math.floor(freemem() / bsize);
    }
    const cap = 0xffffffff;
    const files = 0x7fffffff;
    const ffree = Math.max(0, files - this.chain.view.objects.size);
    return {
      bsize,
      frsize: bsize,
      blocks: Math.min(blocks, cap),
      bfree: Math.min(bfree, cap),
      bavail: Math.min(bavail, cap),
      files,
      ffree,
      favail: ffree,
      fsid: 0,
      flag: 0,
      namemax: NAME_MAX,
    };
  }

  // ---------------------------------------------------------------- directories

  async readdir(path: string): Promise<{ names: string[]; stats: { ino: number; mode: number }[] }> {
    const node = await this.lookup(path);
    if (!isDir(node.v.mode)) fail(ENOTDIR);
    const entries = await this.dirMap(node);
    const parent = node.v.parent !== undefined ? this.inodes.get(node.v.parent) : undefined;
    const names = ['.', '..'];
    const stats = [
      { ino: node.v.ino, mode: S_IFDIR },
      { ino: parent?.v.ino ?? node.v.ino, mode: S_IFDIR },
    ];
    for (const [name, e] of entries) {
      names.push(name);
      stats.push({ ino: e.ino, mode: e.type });
    }
    return { names, stats };
  }

  /** A free inode number and its key (a key is a hash: computed once). */
  private allocIno(): { ino: number; key: PrimaryKey } {
    for (;;) {
      const ino = randomInt(2, 0xffffffff);
      const key = inodeKey(ino);
      if (!this.chain.view.objects.has(key)) return { ino, key };
    }
  }

  /** Creates an inode and its entry; returns the new inode. */
  private async createNode(path: string, mode: number, extra: Partial<InodeValue> = {}): Promise<Inode> {
    return this.mutate(async (tx) => {
      const { dir, name, entries } = await this.parentOf(path);
      if (entries.has(name)) fail(EEXIST);
      const now = Date.now();
      const { ino, key } = this.allocIno();
      const dirMode = isDir(mode);
      const v: InodeValue = {
        ino,
        mode,
        uid: this.owners.newUid,
        gid: this.owners.newGid,
        size: 0,
        nlink: dirMode ? 2 : 1,
        atime: now,
        mtime: now,
        ctime: now,
        btime: now,
        ...extra,
        ...(dirMode ? { parent: dir.key } : {}),
      };
      tx.dio.make(v, { key, parent: { key: ANCHOR_KEY, collection: INODES } }).commit();
      const entry: Entry = { inode: key, ino, type: mode & S_IFMT };
      tx.putDentry(dir, { name, ...entry });
      this.touchDir(tx, dir, now, dirMode ? 1 : 0);
      const node = new Inode(key, v, INODES);
      if (dirMode) node.dir = new Map();
      tx.ok(() => {
        this.inodes.set(key, node);
        entries.set(name, entry);
        dir.dirGen++;
      });
      return node;
    });
  }

  async mkdir(path: string, mode: number): Promise<void> {
    await this.createNode(path, S_IFDIR | (mode & 0o7777));
  }

  async mknod(path: string, mode: number, rdev: number): Promise<void> {
    const type = mode & S_IFMT || S_IFREG;
    if (type === S_IFDIR) fail(EPERM);
    if (![S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK].includes(type)) fail(EINVAL);
    const dev = type === S_IFCHR || type === S_IFBLK ? { rdev } : {};
    await this.createNode(path, type | (mode & 0o7777), dev);
  }

  async symlink(target: string, path: string): Promise<void> {
    if (Buffer.byteLength(target) >= PATH_MAX) fail(ENAMETOOLONG);
    await this.createNode(path, S_IFLNK | 0o777, { target, size: Buffer.byteLength(target) });
  }

  async readlink(path: string): Promise<string> {
    const node = await this.lookup(path);
    if (!isLink(node.v.mode)) fail(EINVAL);
    return node.v.target ?? '';
  }

  /**
   * A directory's entries changed: its times move on, and its link count by `links`. Times alone
   * are set in memory and committed like any attribute change (one event for all the entries
   * made in a directory within a second, instead of one per entry); a link count is stored with
   * the entries, and with scope full everything is.
   */
  private touchDir(tx: Txn, dir: Inode, now: number, links = 0): void {
    if (links !== 0 || this.scope === 'full') {
      tx.putInode(dir, { mtime: now, ctime: now, nlink: tx.current(dir).nlink + links });
      return;
    }
    tx.ok(() => {
      dir.v.mtime = now;
      dir.v.ctime = now;
      this.markChanged(dir);
    });
  }

  /** One link less: the inode is rewritten, kept as an orphan while open, or deleted. */
  private dropLink(tx: Txn, node: Inode, now: number): void {
    const nlink = tx.current(node).nlink - 1;
    if (nlink > 0) tx.putInode(node, { nlink, ctime: now });
    else if (node.file && node.file.refs > 0) tx.putInode(node, { nlink: 0, ctime: now }, ORPHANS);
    else tx.deleteInode(node);
  }

  async unlink(path: string): Promise<void> {
    if (this.hidden.has(path)) {
      // libfuse removing the name it gave a file unlinked while open: its last release already did the work.
      this.hidden.delete(path);
      return;
    }
    await this.mutate(async (tx) => {
      const { dir, name, entries } = await this.parentOf(path);
      const e = entries.get(name);
      if (!e) fail(ENOENT);
      const node = await this.inode(e.inode);
      if (isDir(node.v.mode)) fail(EISDIR);
      const now = Date.now();
      tx.deleteDentry(dir, name);
      this.touchDir(tx, dir, now);
      this.dropLink(tx, node, now);
      tx.ok(() => {
        entries.delete(name);
        dir.dirGen++;
      });
    });
  }

  async rmdir(path: string): Promise<void> {
    const prefix = `${path.replace(/\/+$/, '')}/`;
    await this.hiddenGoneUnder(prefix);
    await this.mutate(async (tx) => {
      const { dir, name, entries } = await this.parentOf(path);
      const e = entries.get(name);
      if (!e) fail(ENOENT);
      const node = await this.inode(e.inode);
      if (!isDir(node.v.mode)) fail(ENOTDIR);
      if (this.chain.view.childrenOf(node.key, DENTRIES).size > 0) fail(ENOTEMPTY);
      // A file unlinked while open still lives here under libfuse's hidden name; libfuse would
      // lose its path and fuse-native would get a NULL path at its release.
      if (this.hasHiddenUnder(prefix)) fail(EBUSY);
      const now = Date.now();
      tx.deleteDentry(dir, name);
      tx.deleteInode(node);
      this.touchDir(tx, dir, now, -1);
      tx.ok(() => {
        entries.delete(name);
        dir.dirGen++;
      });
    });
  }

  private hasHiddenUnder(prefix: string): boolean {
    for (const p of this.hidden.keys()) if (p.startsWith(prefix)) return true;
    return false;
  }

  private async hiddenGoneUnder(prefix: string): Promise<void> {
    const deadline = Date.now() + RELEASE_GRACE_MS;
    while (this.hasHiddenUnder(prefix) && Date.now() < deadline) await sleep(5);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.mutate(async (tx) => {
      const src = await this.parentOf(from);
      const dst = await this.parentOf(to);
      const se = src.entries.get(src.name);
      if (!se) fail(ENOENT);
      const node = await this.inode(se.inode);
      const de = dst.entries.get(dst.name);
      const now = Date.now();
      const moving = isDir(node.v.mode);

      if (!de && !moving && HIDDEN_NAME.test(dst.name) && node.file && node.file.refs > 0) {
        // libfuse hides a file unlinked (or renamed over) while open: an unlink that keeps the
        // inode, reachable by this path only, until its last release.
        tx.deleteDentry(src.dir, src.name);
        this.touchDir(tx, src.dir, now);
        this.dropLink(tx, node, now);
        tx.ok(() => {
          src.entries.delete(src.name);
          src.dir.dirGen++;
          this.hidden.set(to, node.key);
        });
        return;
      }
      if (de && de.inode === se.inode) return; // the same file: nothing to do
      if (moving) {
        // Not into itself or its own subtree.
        for (let d: Inode | undefined = dst.dir; d; ) {
          if (d.key === node.key) fail(EINVAL);
          if (d === this.rootNode || d.v.parent === undefined) break;
          d = await this.inode(d.v.parent);
        }
      }
      let target: Inode | undefined;
      if (de) {
        target = await this.inode(de.inode);
        if (moving && !isDir(target.v.mode)) fail(ENOTDIR);
        if (!moving && isDir(target.v.mode)) fail(EISDIR);
        if (moving && this.chain.view.childrenOf(target.key, DENTRIES).size > 0) fail(ENOTEMPTY);
      }
      const entry: Entry = { inode: node.key, ino: node.v.ino, type: node.v.mode & S_IFMT };
      tx.deleteDentry(src.dir, src.name);
      tx.putDentry(dst.dir, { name: dst.name, ...entry });
      if (target) {
        if (isDir(target.v.mode)) tx.deleteInode(target);
        else this.dropLink(tx, target, now);
      }
      tx.putInode(node, { ctime: now, ...(moving ? { parent: dst.dir.key } : {}) });
      let srcLinks = 0;
      let dstLinks = 0;
      if (moving && src.dir !== dst.dir) {
        srcLinks--;
        dstLinks++;
      }
      if (target && isDir(target.v.mode)) dstLinks--;
      this.touchDir(tx, src.dir, now, srcLinks);
      this.touchDir(tx, dst.dir, now, dstLinks);
      tx.ok(() => {
        src.entries.delete(src.name);
        dst.entries.set(dst.name, entry);
        src.dir.dirGen++;
        dst.dir.dirGen++;
        if (moving) {
          this.dirPaths.clear();
          const prefix = from.endsWith('/') ? from : `${from}/`;
          for (const [p, k] of [...this.hidden]) {
            if (p.startsWith(prefix)) {
              this.hidden.delete(p);
              this.hidden.set(`${to.replace(/\/$/, '')}/${p.slice(prefix.length)}`, k);
            }
          }
        }
      });
    });
  }

  async link(from: string, to: string): Promise<void> {
    await this.mutate(async (tx) => {
      if (this.hidden.has(from)) fail(ENOENT);
      const node = await this.lookup(from);
      if (isDir(node.v.mode)) fail(EPERM);
      if (node.v.nlink === 0) fail(ENOENT);
      const { dir, name, entries } = await this.parentOf(to);
      if (entries.has(name)) fail(EEXIST);
      const now = Date.now();
      const entry: Entry = { inode: node.key, ino: node.v.ino, type: node.v.mode & S_IFMT };
      tx.putDentry(dir, { name, ...entry });
      tx.putInode(node, { nlink: tx.current(node).nlink + 1, ctime: now });
      this.touchDir(tx, dir, now);
      tx.ok(() => {
        entries.set(name, entry);
        dir.dirGen++;
      });
    });
  }

  // ---------------------------------------------------------------- attributes (changes)

  /**
   * An attribute change (chmod, chown, utimens, xattrs): made in memory at once and committed
   * with the inode's next write, or with every other such change after COMMIT_DELAY_MS. tar and
   * cp -a set three or four attributes per file; one event for all of them instead of one
   * transaction each. Not durable before fsync, as on any Linux filesystem.
   */
  private async patch(path: string, fn: (node: Inode, now: number) => Partial<InodeValue>): Promise<void> {
    if (this.readOnly) fail(EROFS);
    // Under the lock: ordered with the transactions, whose ok hooks also assign to node.v.
    const node = await this.lock.run(async () => {
      const n = await this.lookup(path);
      Object.assign(n.v, fn(n, Date.now()));
      this.markChanged(n);
      return n;
    });
    if (this.scope === 'full') await this.commitFile(node);
  }

  private markChanged(node: Inode): void {
    this.changed.add(node);
    if (this.changedTimer) return;
    this.changedTimer = setTimeout(() => {
      this.changedTimer = undefined;
      this.commitChanged().catch((err: unknown) => this.onBackgroundError(err, 'attributes'));
    }, COMMIT_DELAY_MS);
    this.changedTimer.unref();
  }

  /** Commits every inode with attribute changes in memory only, a bounded number per transaction. */
  private async commitChanged(): Promise<void> {
    while (this.changed.size > 0) {
      await this.lock.run(() =>
        this.transact((tx) => {
          for (const node of this.changed) {
            if (tx.inodes.size >= CHANGED_PER_COMMIT) break;
            if (node.deleted) this.changed.delete(node);
            else tx.putInode(node);
          }
        }),
      );
    }
  }

  async chmod(path: string, mode: number): Promise<void> {
    await this.patch(path, (node, now) => ({ mode: (node.v.mode & S_IFMT) | (mode & 0o7777), ctime: now }));
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    const keep = (n: number): boolean => n === -1 || n === 0xffffffff;
    await this.patch(path, (node, now) => ({
      ...(keep(uid) ? {} : { uid: this.owners.storedUid(uid) }),
      ...(keep(gid) ? {} : { gid: this.owners.storedGid(gid) }),
      ctime: now,
    }));
  }

  /**
   * Times in ms. fuse-native turns UTIME_NOW and UTIME_OMIT into the same 1073 ms (AteFuse
   * recovers the mtime fuse-native 2.2.6 drops). A special value alone keeps that time; both
   * special means "now". Linux also sets ctime. Note: libfuse 2.9's high-level API calls this
   * only when both times are set; a change of one time alone (touch -m, tar x) never arrives.
   */
  async utimens(path: string, atime: number, mtime: number): Promise<void> {
    await this.patch(path, (node, now) => {
      const sa = atime === UTIME_SPECIAL_MS;
      const sm = mtime === UTIME_SPECIAL_MS;
      if (sa && sm) return { atime: now, mtime: now, ctime: now };
      return { atime: sa ? node.v.atime : atime, mtime: sm ? node.v.mtime : mtime, ctime: now };
    });
  }

  // ---------------------------------------------------------------- xattrs

  private static checkXattrName(name: string): void {
    if (name.length === 0) fail(EINVAL);
    if (Buffer.byteLength(name) > XATTR_NAME_MAX) fail(ERANGE);
    // No POSIX ACLs: the kernel would not enforce them (no FUSE_POSIX_ACL in libfuse2).
    if (name.startsWith('system.')) fail(EOPNOTSUPP);
  }

  async getxattr(path: string, name: string): Promise<Buffer> {
    return Volume.xattr(await this.lookup(path), name);
  }

  /** getxattr without a promise (the kernel asks for security.capability before every write); undefined: use getxattr. */
  getxattrCached(path: string, name: string): Buffer | undefined {
    const node = this.lookupCached(path);
    return node && Volume.xattr(node, name);
  }

  private static xattr(node: Inode, name: string): Buffer {
    if (name.startsWith('system.')) fail(ENODATA);
    const hit = node.v.xattrs?.find(([n]) => n === name);
    if (!hit) fail(ENODATA);
    return Buffer.from(hit[1]);
  }

  async listxattr(path: string): Promise<string[]> {
    const node = await this.lookup(path);
    return (node.v.xattrs ?? []).map(([n]) => n);
  }

  async setxattr(path: string, name: string, value: Buffer, flags: number): Promise<void> {
    Volume.checkXattrName(name);
    if (value.length > XATTR_SIZE_MAX) fail(E2BIG);
    const copy = Uint8Array.from(value);
    await this.patch(path, (node, now) => {
      const list = node.v.xattrs ?? [];
      const exists = list.some(([n]) => n === name);
      if (flags & XATTR_CREATE && exists) fail(EEXIST);
      if (flags & XATTR_REPLACE && !exists) fail(ENODATA);
      const xattrs: [string, Uint8Array][] = [...list.filter(([n]) => n !== name), [name, copy]];
      return { xattrs, ctime: now };
    });
  }

  async removexattr(path: string, name: string): Promise<void> {
    Volume.checkXattrName(name);
    await this.patch(path, (node, now) => {
      const list = node.v.xattrs ?? [];
      if (!list.some(([n]) => n === name)) fail(ENODATA);
      return { xattrs: list.filter(([n]) => n !== name), ctime: now };
    });
  }

  // ---------------------------------------------------------------- open files

  private handle(fd: number): Handle {
    const h = this.handles.get(fd);
    if (!h) fail(EBADF);
    return h;
  }

  private attach(node: Inode, writable: boolean): number {
    const file = (node.file ??= new FileState());
    file.refs++;
    let fd = this.nextFd;
    while (this.handles.has(fd)) fd = fd >= 0x7ffffff0 ? 1 : fd + 1;
    this.nextFd = fd >= 0x7ffffff0 ? 1 : fd + 1;
    this.handles.set(fd, { node, writable });
    return fd;
  }

  async open(path: string, flags: number): Promise<number> {
    const node = await this.lookup(path);
    const writable = (flags & O_ACCMODE) !== O_RDONLY;
    if (isDir(node.v.mode) && writable) fail(EISDIR);
    if (writable && this.readOnly) fail(EROFS);
    const fd = this.attach(node, writable);
    const truncating = (flags & O_TRUNC) !== 0 && writable;
    // The first read follows the open: decrypt the first chunk while the kernel asks for it.
    if (!truncating && isReg(node.v.mode) && node.v.size > 0) this.prefetch(node, 0);
    if (truncating && isReg(node.v.mode) && node.v.size > 0) {
      try {
        await this.truncateNode(node, 0);
      } catch (err) {
        await this.release(fd).catch(() => undefined);
        throw err;
      }
    }
    return fd;
  }

  async create(path: string, mode: number): Promise<number> {
    const node = await this.createNode(path, S_IFREG | (mode & 0o7777));
    return this.attach(node, true);
  }

  async release(fd: number): Promise<void> {
    const h = this.handles.get(fd);
    if (!h) return;
    this.handles.delete(fd);
    const { node } = h;
    const file = node.file;
    if (!file) return;
    file.refs--;
    let failure: unknown;
    try {
      await this.commitFile(node);
    } catch (err) {
      failure = err;
    }
    if (file.refs === 0 && node.file === file && !node.deleted) {
      if (node.collection === ORPHANS && node.v.nlink === 0) {
        await this.mutate((tx) => {
          if (!node.deleted && file.refs === 0) tx.deleteInode(node);
        });
      } else if (!file.isDirty && file.pending.size === 0) {
        if (file.timer) clearTimeout(file.timer);
        node.file = undefined;
      }
    }
    if (failure !== undefined) throw failure;
  }

  async flush(fd: number): Promise<void> {
    await this.commitFile(this.handle(fd).node);
  }

  async fsync(fd: number): Promise<void> {
    await this.commitFile(this.handle(fd).node, true);
  }

  async fsyncdir(): Promise<void> {
    await this.commitChanged();
    await this.chain.flush(true);
  }

  /** The bytes of a chunk as far as they are known (dirty, committing, cached or stored), or undefined for a hole. */
  private chunkData(node: Inode, i: number): Buffer | undefined | Promise<Buffer | undefined> {
    const f = node.file;
    if (f) {
      const d = f.dirty.get(i) ?? f.committing?.get(i);
      if (d) return d;
      if (f.deletes.has(i)) return undefined;
    }
    const ck = `${node.gen}:${i}`;
    const hit = this.cache.get(ck);
    if (hit) return hit;
    const inflight = this.chunkLoads.get(ck);
    if (inflight) return inflight;
    const key = chunkKey(node.key, i);
    if (!this.chain.view.objects.has(key)) return undefined;
    const p: Promise<Buffer | undefined> = this.dio()
      .load<ChunkValue>(key)
      .then(
        (dao) => {
          const d = dao.value.d;
          const buf = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
          if (this.chunkLoads.get(ck) === p) {
            this.chunkLoads.delete(ck);
            this.cache.set(ck, buf);
          }
          return buf;
        },
        (err: unknown) => {
          if (this.chunkLoads.get(ck) === p) this.chunkLoads.delete(ck);
          throw err;
        },
      );
    this.chunkLoads.set(ck, p);
    return p;
  }

  async read(fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
    const { node } = this.handle(fd);
    return this.readNode(node, buf, len, pos);
  }

  async readNode(node: Inode, buf: Buffer, len: number, pos: number): Promise<number> {
    if (isDir(node.v.mode)) fail(EISDIR);
    const CS = this.chunkSize;
    const size = node.v.size;
    if (pos >= size || len <= 0) return 0;
    const end = Math.min(pos + len, size);
    let done = 0;
    let last = -1;
    while (pos + done < end) {
      const off = pos + done;
      const i = Math.floor(off / CS);
      const within = off - i * CS;
      const n = Math.min(CS - within, end - off);
      let data = this.chunkData(node, i);
      if (data instanceof Promise) data = await data;
      let copied = 0;
      if (data && within < data.length) copied = data.copy(buf, done, within, Math.min(within + n, data.length));
      if (copied < n) buf.fill(0, done + copied, done + n);
      done += n;
      last = i;
    }
    // Read ahead: decrypt the next chunks while the kernel handles this one.
    if (last >= 0 && pos + done >= (last + 1) * CS - 2 * 131072) {
      for (let i = last + 1; i <= last + READ_AHEAD_CHUNKS && i * CS < node.v.size; i++) this.prefetch(node, i);
    }
    return done;
  }

  /** Starts loading a chunk into the cache (errors show at the real read). */
  private prefetch(node: Inode, i: number): void {
    const data = this.chunkData(node, i);
    if (data instanceof Promise) data.catch(() => undefined);
  }

  private setDirty(file: FileState, i: number, b: Buffer): void {
    file.dirty.set(i, b);
    file.dirtyBytes += b.length;
    file.deletes.delete(i);
  }

  /**
   * Makes the dirty buffer of a chunk at least `end` bytes long, read in first unless the write
   * covers it whole. Buffers start as small as the data and double as it grows (a small file
   * never allocates a whole chunk); bytes past a buffer's end read as zeros. Callers take
   * file.dirty.get(i) after it, and check it again after any await of theirs: a commit or
   * another write may have replaced it.
   */
  private async chunkForWrite(node: Inode, file: FileState, i: number, end: number, whole: boolean): Promise<void> {
    const CS = this.chunkSize;
    for (;;) {
      const have = file.dirty.get(i);
      if (have) {
        if (have.length < end) this.grow(file, i, have, end);
        return;
      }
      const pending = file.pending.get(i);
      if (pending) {
        await pending;
        continue;
      }
      if (whole) {
        // Every byte is about to be written.
        this.setDirty(file, i, Buffer.allocUnsafe(CS));
        return;
      }
      const gen = node.gen;
      const p = (async (): Promise<void> => {
        const base = await this.chunkData(node, i);
        if (file.dirty.has(i) || node.gen !== gen) return;
        const length = Math.min(base?.length ?? 0, CS);
        const b = Buffer.alloc(Math.min(CS, Math.max(end, length, MIN_DIRTY_BUFFER)));
        if (base) base.copy(b, 0, 0, length);
        this.setDirty(file, i, b);
      })();
      file.pending.set(i, p);
      try {
        await p;
      } finally {
        if (file.pending.get(i) === p) file.pending.delete(i);
      }
    }
  }

  /** Replaces a chunk's dirty buffer by a larger copy holding at least `end` bytes. */
  private grow(file: FileState, i: number, b: Buffer, end: number): void {
    const bigger = Buffer.alloc(Math.min(this.chunkSize, Math.max(end, 2 * b.length)));
    b.copy(bigger);
    file.dirty.set(i, bigger);
    file.dirtyBytes += bigger.length - b.length;
  }

  async write(fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
    const h = this.handle(fd);
    if (!h.writable) fail(EBADF);
    if (this.readOnly) fail(EROFS);
    const { node } = h;
    if (!isReg(node.v.mode)) fail(EINVAL);
    if (pos + len > MAX_FILE_SIZE) fail(EFBIG);
    const file = (node.file ??= new FileState());
    const CS = this.chunkSize;
    let done = 0;
    while (done < len) {
      const off = pos + done;
      const i = Math.floor(off / CS);
      const within = off - i * CS;
      const n = Math.min(CS - within, len - done);
      let chunk = file.dirty.get(i);
      // Checked again after each wait: the buffer must be the current one when the bytes go in.
      while (!chunk || chunk.length < within + n) {
        await this.chunkForWrite(node, file, i, within + n, within === 0 && n === CS);
        chunk = file.dirty.get(i);
      }
      buf.copy(chunk, within, done, done + n);
      done += n;
      // The size grows with each piece: a commit that runs while the next piece is read in
      // must not cut this one off.
      if (pos + done > node.v.size) node.v.size = pos + done;
      file.metaDirty = true;
    }
    const now = Date.now();
    node.v.mtime = now;
    node.v.ctime = now;
    file.metaDirty = true;
    this.armTimer(node, file);
    if (file.dirtyBytes >= FILE_DIRTY_LIMIT) {
      // The commit seals in a worker while the next writes fill new buffers; a writer waits
      // only when the previous commit is still under way (at most about two limits in memory).
      // A failed background commit puts the data back dirty: the next flush or fsync reports it.
      if (file.committing) await this.commitFile(node);
      else this.commitFile(node).catch((err: unknown) => this.onBackgroundError(err, `inode ${node.v.ino}`));
    }
    return len;
  }

  private armTimer(node: Inode, file: FileState): void {
    if (file.timer) return;
    file.timer = setTimeout(() => {
      file.timer = undefined;
      this.commitFile(node).catch((err: unknown) => this.onBackgroundError(err, `inode ${node.v.ino}`));
    }, COMMIT_DELAY_MS);
    file.timer.unref();
  }

  async truncate(path: string, size: number): Promise<void> {
    await this.truncateNode(await this.lookup(path), size);
  }

  async ftruncate(fd: number, size: number): Promise<void> {
    const h = this.handle(fd);
    if (!h.writable) fail(EINVAL);
    await this.truncateNode(h.node, size);
  }

  async truncateNode(node: Inode, size: number): Promise<void> {
    if (isDir(node.v.mode)) fail(EISDIR);
    if (!isReg(node.v.mode)) fail(EINVAL);
    if (size < 0) fail(EINVAL);
    if (size > MAX_FILE_SIZE) fail(EFBIG);
    if (this.readOnly) fail(EROFS);
    const CS = this.chunkSize;
    const temporary = !node.file;
    const file = (node.file ??= new FileState());
    try {
      await this.lock.run(async () => {
        if (node.deleted) fail(ENOENT);
        const old = node.v.size;
        if (size < old) {
          const keep = Math.ceil(size / CS);
          const tail = size % CS;
          if (tail !== 0) {
            // The new last chunk: its bytes past the end become zeros (stored ones are rewritten).
            const last = keep - 1;
            const data = await this.chunkData(node, last);
            if (data && data.length > tail) {
              let chunk = file.dirty.get(last);
              while (!chunk) {
                await this.chunkForWrite(node, file, last, 0, false);
                chunk = file.dirty.get(last);
              }
              if (chunk.length > tail) chunk.fill(0, tail);
            }
          }
          for (const i of [...file.dirty.keys()]) {
            if (i >= keep) {
              file.dirtyBytes -= file.dirty.get(i)!.length;
              file.dirty.delete(i);
            }
          }
          for (const i of await this.storedChunksFrom(node, keep, Math.ceil(old / CS))) file.deletes.add(i);
          // Cached chunks may hold bytes past the new end: start a new cache generation,
          // keeping the last chunk's trimmed copy dirty.
          node.gen = nextGen();
        }
        const now = Date.now();
        node.v.size = size;
        node.v.mtime = now;
        node.v.ctime = now;
        file.metaDirty = true;
        await this.transact((tx) => {
          tx.putInode(node);
        });
      });
      if (this.scope === 'full') await this.chain.flush(true);
    } finally {
      if (temporary && node.file === file && file.refs === 0 && !file.isDirty) node.file = undefined;
    }
  }

  /** Indices >= from of the stored chunks of a file whose old chunk count was `to`. */
  private async storedChunksFrom(node: Inode, from: number, to: number): Promise<number[]> {
    const children = this.chain.view.childrenOf(node.key, CHUNKS);
    if (children.size === 0 || to <= from) return [];
    const out: number[] = [];
    if (to - from <= 4 * children.size + 1024) {
      for (let i = from; i < to; i++) if (children.has(chunkKey(node.key, i))) out.push(i);
      return out;
    }
    // A huge sparse range: read the indices of the chunks that exist instead.
    const dio = this.dio();
    for (const k of [...children]) {
      const dao = await dio.load<ChunkValue>(k);
      if (dao.value.i >= from) out.push(dao.value.i);
    }
    return out;
  }
}
