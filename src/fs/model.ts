// How a filesystem lives in a chain.
//
//   anchor (primaryKeyFromName('atefs:root'), readers = the vault's keys; the only parentless object)
//     collection INODES:  one Inode object per file, directory, symlink, FIFO, socket or device
//       inode collection DENTRIES (directories): one Dentry {name, inode, ino, type} per entry
//       inode collection CHUNKS (files):         one Chunk {i, d} per stored chunk of data
//     collection ORPHANS: inodes unlinked while open; deleted at their last close or next mount
//
// Every object but the anchor inherits its readers (so its data key) from the anchor, so all of
// it is encrypted for the vault. Keys are derived, never stored:
//   inode key  = H('atefs:inode:' + ino)            (ino: a random 32-bit number, unique in the chain)
//   dentry key = H('atefs:dentry:' + dir key + ':' + name)
//   chunk key  = H('atefs:chunk:' + inode key + ':' + index)
// so a name is found, a hole is told from data, and a chunk is deleted without any index object.
import { type CollectionId, type PrimaryKey, primaryKeyFromName } from '../core/index.js';

export const ANCHOR_KEY: PrimaryKey = primaryKeyFromName('atefs:root');
export const ROOT_INO = 1;

export const INODES = 1 as CollectionId;
export const ORPHANS = 2 as CollectionId;
export const DENTRIES = 3 as CollectionId;
export const CHUNKS = 4 as CollectionId;

/**
 * Chunk size of new filesystems. Measured (dd of 256 MiB in 128 KiB blocks, write with fsync, then
 * read after a remount): 64 KiB 57/144 MB/s, 128 KiB 75/172, 256 KiB 75/160, 1 MiB 73/198. 128 KiB
 * equals max_write, so sequential writes never read a chunk back and small rewrites stay cheap.
 */
export const DEFAULT_CHUNK_SIZE = 128 * 1024;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export interface AnchorValue {
  format: 'atefs';
  version: 1;
  chunkSize: number;
  created: number;
}

export interface InodeValue {
  ino: number;
  /** Type and permission bits, as st_mode. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  /** Milliseconds since the epoch (what fuse-native can carry). */
  atime: number;
  mtime: number;
  ctime: number;
  btime: number;
  rdev?: number;
  /** Symlinks: the target. */
  target?: string;
  /** Directories: the inode key of the directory that holds this one (the root: itself). */
  parent?: PrimaryKey;
  /** Extended attributes, name -> value. */
  xattrs?: [string, Uint8Array][];
}

export interface DentryValue {
  name: string;
  inode: PrimaryKey;
  ino: number;
  /** The S_IFMT bits of the inode (for readdir without loading inodes). */
  type: number;
}

export interface ChunkValue {
  i: number;
  d: Uint8Array;
}

export const inodeKey = (ino: number): PrimaryKey => primaryKeyFromName(`atefs:inode:${ino}`);
export const dentryKey = (dir: PrimaryKey, name: string): PrimaryKey => primaryKeyFromName(`atefs:dentry:${dir}:${name}`);
export const chunkKey = (inode: PrimaryKey, index: number): PrimaryKey => primaryKeyFromName(`atefs:chunk:${inode}:${index}`);

export const isDir = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
export const isReg = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
export const isLink = (mode: number): boolean => (mode & S_IFMT) === S_IFLNK;
