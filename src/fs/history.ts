// The history of a filesystem, read back from its chain: which operation changed which path,
// when, and who signed it. The chain stores objects, not operations, so each operation is
// inferred from the objects one commit changed (see model.ts for the objects):
//
//   a new dentry                           create, mkdir, symlink or mknod by its type; link
//                                          when its inode existed before the commit
//   a dentry deleted                       unlink, or rmdir for a directory
//   a dentry deleted and one made for      rename (an existing target that it replaced is part
//   the same inode, in one commit          of the rename)
//   chunks stored                          write (one line per file, however many chunks)
//   chunks deleted only, or the size       truncate
//   changed without chunks
//   an inode changed by nothing above      chmod, chown, setxattr, removexattr, utimens, setattr
//   the anchor created                     mkfs
//
// One commit is the run of events that carry the same timestamp (a transaction stamps all of
// its events with one time). The directory tree is replayed alongside, so that each line names
// the path as it was at that commit. What compaction removed from the log is not listed.
import {
  type AteSession,
  type AuthorityState,
  type Chain,
  type Metadata,
  type PrimaryKey,
  decodeEvent,
  eventIdOf,
  fingerprint,
  openValue,
} from '../core/index.js';
import {
  ANCHOR_KEY,
  CHUNKS,
  DENTRIES,
  type DentryValue,
  INODES,
  type InodeValue,
  ORPHANS,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  inodeKey,
} from './model.js';

export type FsOperation =
  | 'mkfs'
  | 'create'
  | 'mkdir'
  | 'symlink'
  | 'mknod'
  | 'link'
  | 'rename'
  | 'unlink'
  | 'rmdir'
  | 'write'
  | 'truncate'
  | 'chmod'
  | 'chown'
  | 'setxattr'
  | 'removexattr'
  | 'utimens'
  | 'setattr';

export interface FsHistoryEntry {
  /** When the commit was made: milliseconds since the epoch. */
  time: number;
  /**
   * The id of the last event of the commit the operation belongs to (64 hex digits): the chain
   * as it was right after this event is the filesystem right after the operation.
   */
  eventId: string;
  op: FsOperation;
  /** The path the operation acted on; for a rename, the new path. */
  path: string;
  /** A rename's old path. */
  from?: string;
  /** The event's author, else the fingerprint of the key that signed it, else "anonymous". */
  identity: string;
}

/** What the walk remembers of an inode: enough to tell which attributes a commit changed. */
interface InodeSummary {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: number;
  mtime: number;
  /** The xattr names, sorted, and a digest of their values. */
  xattrNames: string[];
  xattrSig: string;
}

interface DentryInfo {
  dir: PrimaryKey;
  name: string;
  inode: PrimaryKey;
  type: number;
}

/** One event of a commit, decoded as far as the analysis needs. */
type Change =
  | { kind: 'anchor'; pos: number; meta: Metadata }
  | { kind: 'inode'; pos: number; meta: Metadata; key: PrimaryKey; value: InodeValue | undefined }
  | { kind: 'dentry'; pos: number; meta: Metadata; key: PrimaryKey; dir: PrimaryKey; value: DentryValue | undefined }
  | { kind: 'chunk'; pos: number; meta: Metadata; inode: PrimaryKey }
  | { kind: 'inode-del'; pos: number; meta: Metadata; key: PrimaryKey }
  | { kind: 'dentry-del'; pos: number; meta: Metadata; key: PrimaryKey }
  | { kind: 'chunk-del'; pos: number; meta: Metadata; inode: PrimaryKey };

const ROOT_KEY = inodeKey(ROOT_INO);
const UNKNOWN_INODE: InodeSummary = { mode: 0, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0, xattrNames: [], xattrSig: '' };
const MAX_DEPTH = 4096;

function summarize(v: InodeValue): InodeSummary {
  const xattrs = [...(v.xattrs ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    mode: v.mode,
    uid: v.uid,
    gid: v.gid,
    size: v.size,
    atime: v.atime,
    mtime: v.mtime,
    xattrNames: xattrs.map(([n]) => n),
    xattrSig: xattrs.map(([n, val]) => `${n}=${Buffer.from(val).toString('base64')}`).join('\0'),
  };
}

/** The identity behind an event: its author, else the signing key's fingerprint. */
export function identityOf(meta: Metadata): string {
  if (meta.author) return meta.author;
  const signer = meta.signWith?.[0];
  if (signer !== undefined && /^[0-9a-f]{16,}$/i.test(signer)) return fingerprint(Buffer.from(signer, 'hex'));
  return 'anonymous';
}

/** The kind of node a type (S_IFMT bits) names, as the operation that creates it. */
function creationOf(type: number): FsOperation {
  switch (type & S_IFMT) {
    case S_IFDIR:
      return 'mkdir';
    case S_IFLNK:
      return 'symlink';
    case S_IFREG:
      return 'create';
    default:
      return 'mknod';
  }
}

const join = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/**
 * Every operation of the filesystem in `chain`, oldest first. `chain` is best opened read-only
 * (time travel) so that nothing is written while the walk reads; `session` must hold the vault's
 * read key (dentries and inodes are encrypted).
 */
export async function* fsHistory(chain: Chain, session: AteSession): AsyncIterable<FsHistoryEntry> {
  const ring = chain.keyring(session);
  /** Authority of the objects that exist at this point of the walk (to find data keys). */
  const authority = new Map<PrimaryKey, AuthorityState>();
  const inodes = new Map<PrimaryKey, InodeSummary>();
  const dentries = new Map<PrimaryKey, DentryInfo>();
  /** Inode -> the dentries that name it (several for hard links). */
  const links = new Map<PrimaryKey, Set<PrimaryKey>>();
  /** The last path of an inode whose last name went away (files unlinked while open). */
  const lastPath = new Map<PrimaryKey, string>();

  const decrypt = <T>(key: PrimaryKey, meta: Metadata, data: Uint8Array | undefined): T | undefined => {
    if (data === undefined) return undefined;
    try {
      return openValue<T>(chain, ring, key, { auth: meta.auth, parent: meta.parent }, (k) => authority.get(k), meta.confidentiality, data);
    } catch {
      return undefined; // unreadable here: the operation is still inferred from the metadata
    }
  };

  const pathOf = (inode: PrimaryKey, depth = 0): string => {
    if (inode === ROOT_KEY) return '/';
    const names = links.get(inode);
    const first = names?.values().next().value;
    const d = first !== undefined ? dentries.get(first) : undefined;
    if (d && depth < MAX_DEPTH) return join(pathOf(d.dir, depth + 1), d.name);
    const last = lastPath.get(inode);
    return last !== undefined ? `${last} (deleted)` : `(inode ${inode})`;
  };
  const dentryPath = (d: DentryInfo): string => join(pathOf(d.dir), d.name);

  const addLink = (d: PrimaryKey, inode: PrimaryKey): void => {
    let s = links.get(inode);
    if (!s) links.set(inode, (s = new Set()));
    s.add(d);
  };
  const dropLink = (d: PrimaryKey, inode: PrimaryKey): void => {
    const s = links.get(inode);
    if (!s) return;
    s.delete(d);
    if (s.size === 0) links.delete(inode);
  };

  let group: Change[] = [];
  let groupTime: number | undefined;
  let groupLast: Uint8Array | undefined;
  let pos = 0;

  /** Turns one commit into lines, then applies it to the walk's state. */
  const analyse = (changes: Change[], time: number, lastBytes: Uint8Array): FsHistoryEntry[] => {
    const eventId = eventIdOf(lastBytes) as string;
    const lines: (FsHistoryEntry & { pos: number })[] = [];
    const seen = new Set<string>();
    const emit = (pos: number, op: FsOperation, path: string, meta: Metadata, from?: string): void => {
      const id = `${op}\0${from ?? ''}\0${path}`;
      if (seen.has(id)) return;
      seen.add(id);
      lines.push({ pos, time, eventId, op, path, ...(from !== undefined ? { from } : {}), identity: identityOf(meta) });
    };

    // What the commit replaces is looked at before it applies.
    const removed = new Map<PrimaryKey, { info: DentryInfo; path: string; change: Change }>();
    const previous = new Map<PrimaryKey, DentryInfo | undefined>();
    const oldInodes = new Map<PrimaryKey, InodeSummary | undefined>();
    const deletedInodes = new Set<PrimaryKey>();
    for (const c of changes) {
      if (c.kind === 'dentry-del') {
        const info = dentries.get(c.key);
        if (info) removed.set(c.key, { info, path: dentryPath(info), change: c });
      } else if (c.kind === 'dentry') {
        if (!previous.has(c.key)) previous.set(c.key, dentries.get(c.key));
        if (c.value && !oldInodes.has(c.value.inode)) oldInodes.set(c.value.inode, inodes.get(c.value.inode));
      } else if (c.kind === 'inode') {
        if (!oldInodes.has(c.key)) oldInodes.set(c.key, inodes.get(c.key));
      } else if (c.kind === 'chunk' || c.kind === 'chunk-del') {
        if (!oldInodes.has(c.inode)) oldInodes.set(c.inode, inodes.get(c.inode));
      } else if (c.kind === 'inode-del') deletedInodes.add(c.key);
    }
    const existed = (k: PrimaryKey): boolean => oldInodes.get(k) !== undefined || (!oldInodes.has(k) && inodes.has(k));
    const mkfs = changes.some((c) => c.kind === 'anchor') && !authority.has(ANCHOR_KEY);

    // Apply the commit: puts in order, then deletions (the order a transaction writes them in).
    for (const c of changes) {
      if (c.kind === 'anchor' || c.kind === 'inode' || c.kind === 'dentry' || c.kind === 'chunk') {
        authority.set(c.meta.key!, { auth: c.meta.auth, parent: c.meta.parent });
      }
      if (c.kind === 'inode') {
        if (c.value) inodes.set(c.key, summarize(c.value));
        else if (!inodes.has(c.key)) inodes.set(c.key, UNKNOWN_INODE);
      } else if (c.kind === 'dentry' && c.value) {
        const old = dentries.get(c.key);
        if (old) dropLink(c.key, old.inode);
        const info = { dir: c.dir, name: c.value.name, inode: c.value.inode, type: c.value.type };
        dentries.set(c.key, info);
        addLink(c.key, info.inode);
      }
    }
    for (const c of changes) {
      if (c.kind === 'dentry-del') {
        const info = dentries.get(c.key);
        if (info) {
          lastPath.set(info.inode, dentryPath(info));
          dentries.delete(c.key);
          dropLink(c.key, info.inode);
        }
        authority.delete(c.key);
      } else if (c.kind === 'inode-del') {
        inodes.delete(c.key);
        authority.delete(c.key);
      } else if (c.kind === 'chunk-del') {
        authority.delete(c.meta.tombstone!);
      }
    }

    // Namespace operations.
    const subjects = new Set<PrimaryKey>(); // inodes whose change a namespace operation explains
    const dirs = new Set<PrimaryKey>(); // directories whose times and link counts it explains
    const paired = new Set<PrimaryKey>();
    if (mkfs) {
      const anchor = changes.find((c) => c.kind === 'anchor')!;
      emit(anchor.pos, 'mkfs', '/', anchor.meta);
      subjects.add(ROOT_KEY);
    }
    for (const c of changes) {
      if (c.kind !== 'dentry' || !c.value) continue;
      const info = dentries.get(c.key)!;
      const path = dentryPath(info);
      subjects.add(info.inode);
      dirs.add(info.dir);
      const before = previous.get(c.key);
      if (before?.inode === info.inode) continue; // the same entry stored again
      if (before) subjects.add(before.inode); // the target a rename replaced
      const source = [...removed.entries()].find(([k, r]) => k !== c.key && !paired.has(k) && r.info.inode === info.inode);
      if (source) {
        paired.add(source[0]);
        dirs.add(source[1].info.dir);
        emit(c.pos, 'rename', path, c.meta, source[1].path);
      } else if (existed(info.inode)) {
        emit(c.pos, 'link', path, c.meta);
      } else {
        emit(c.pos, creationOf(info.type || (inodes.get(info.inode)?.mode ?? 0)), path, c.meta);
      }
    }
    for (const [k, r] of removed) {
      subjects.add(r.info.inode);
      dirs.add(r.info.dir);
      if (paired.has(k)) continue;
      emit(r.change.pos, (r.info.type & S_IFMT) === S_IFDIR ? 'rmdir' : 'unlink', r.path, r.change.meta);
    }

    // Data and attributes.
    const chunkPuts = new Map<PrimaryKey, Change>();
    const chunkDels = new Map<PrimaryKey, Change>();
    for (const c of changes) {
      if (c.kind === 'chunk' && !chunkPuts.has(c.inode)) chunkPuts.set(c.inode, c);
      if (c.kind === 'chunk-del' && !chunkDels.has(c.inode)) chunkDels.set(c.inode, c);
    }
    const touched = new Map<PrimaryKey, Change>();
    for (const c of changes) if (c.kind === 'inode' && !touched.has(c.key)) touched.set(c.key, c);
    for (const [k, c] of chunkPuts) if (!touched.has(k)) touched.set(k, c);
    for (const [k, c] of chunkDels) if (!touched.has(k)) touched.set(k, c);
    for (const [key, first] of touched) {
      if (deletedInodes.has(key)) continue; // gone with its last name, or an orphan purged
      if (!inodes.has(key) && first.kind !== 'inode') continue;
      const path = pathOf(key);
      const put = chunkPuts.get(key);
      const del = chunkDels.get(key);
      const before = oldInodes.get(key);
      const after = inodes.get(key);
      const ops: [FsOperation, Change][] = [];
      const shrank = before !== undefined && after !== undefined && after.size < before.size;
      const grew = before !== undefined && after !== undefined && after.size > before.size;
      if (shrank || (grew && !put) || (del && !put)) ops.push(['truncate', first]);
      if (put && !shrank) ops.push(['write', put]);
      const explained = subjects.has(key) || dirs.has(key) || !existed(key);
      if (!explained && before !== undefined && after !== undefined && first.kind === 'inode') {
        if ((before.mode & ~S_IFMT) !== (after.mode & ~S_IFMT)) ops.push(['chmod', first]);
        if (before.uid !== after.uid || before.gid !== after.gid) ops.push(['chown', first]);
        if (before.xattrSig !== after.xattrSig) {
          const added = after.xattrNames.some((n) => !before.xattrNames.includes(n));
          const gone = before.xattrNames.some((n) => !after.xattrNames.includes(n));
          ops.push([gone && !added ? 'removexattr' : 'setxattr', first]);
        }
        // A directory's mtime alone: the times its entries' changes left in memory, stored later
        // (Volume.touchDir); those changes are listed themselves. (A utimens that keeps the atime
        // of a directory is not listed either.)
        const dirTimes = (after.mode & S_IFMT) === S_IFDIR && before.atime === after.atime;
        if (ops.length === 0 && (before.atime !== after.atime || before.mtime !== after.mtime) && !dirTimes) ops.push(['utimens', first]);
        if (ops.length === 0 && !dirTimes) ops.push(['setattr', first]);
      }
      for (const [op, c] of ops) emit(c.pos, op, path, c.meta);
    }

    lines.sort((a, b) => a.pos - b.pos);
    return lines.map(({ pos: _pos, ...e }) => e);
  };

  const flushGroup = (): FsHistoryEntry[] => {
    if (group.length === 0 || groupLast === undefined) return [];
    const out = analyse(group, groupTime ?? 0, groupLast);
    group = [];
    groupLast = undefined;
    return out;
  };

  for await (const bytes of chain.history()) {
    const { meta, data } = decodeEvent(bytes);
    if (meta.key === undefined && meta.tombstone === undefined) continue; // proofs: signatures, keys
    const time = meta.timestamp ?? groupTime ?? 0;
    if (group.length > 0 && time !== groupTime) yield* flushGroup();
    groupTime = time;
    groupLast = bytes;
    const p = pos++;
    const parent = meta.parent;
    if (meta.key !== undefined) {
      const key = meta.key;
      if (key === ANCHOR_KEY) group.push({ kind: 'anchor', pos: p, meta });
      else if (parent?.collection === INODES || parent?.collection === ORPHANS) {
        group.push({ kind: 'inode', pos: p, meta, key, value: decrypt<InodeValue>(key, meta, data) });
      } else if (parent?.collection === DENTRIES) {
        group.push({ kind: 'dentry', pos: p, meta, key, dir: parent.key, value: decrypt<DentryValue>(key, meta, data) });
      } else if (parent?.collection === CHUNKS) group.push({ kind: 'chunk', pos: p, meta, inode: parent.key });
      else authority.set(key, { auth: meta.auth, parent });
    } else {
      const key = meta.tombstone!;
      const collection = parent?.collection ?? (dentries.has(key) ? DENTRIES : inodes.has(key) ? INODES : undefined);
      if (collection === DENTRIES) group.push({ kind: 'dentry-del', pos: p, meta, key });
      else if (collection === INODES || collection === ORPHANS) group.push({ kind: 'inode-del', pos: p, meta, key });
      else if (collection === CHUNKS && parent) group.push({ kind: 'chunk-del', pos: p, meta, inode: parent.key });
      else authority.delete(key);
    }
  }
  yield* flushGroup();
}

/** The time of the first event of a chain (undefined when it is empty). */
export async function firstEventTime(chain: Chain): Promise<number | undefined> {
  for await (const bytes of chain.history()) {
    const t = decodeEvent(bytes).meta.timestamp;
    if (t !== undefined) return t;
  }
  return undefined;
}
