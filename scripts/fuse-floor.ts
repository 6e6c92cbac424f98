// The floor of bench-fs: a bare passthrough filesystem on fuse-native, with atefs' mount options,
// no encryption and no chain. Whatever it costs is what the binding and the kernel cost a
// JavaScript filesystem; atefs cannot be faster than this on the same machine. Not a product.
//
//   node dist/scripts/fuse-floor.js <backing-dir> <mount-point>   (foreground; SIGTERM unmounts)
import { constants, promises as fsp } from 'node:fs';
import { close, fsync, ftruncate, open, read, write } from 'node:fs';
import { constants as os } from 'node:os';
import { join } from 'node:path';
import Fuse from 'fuse-native';
import { fuseOptions } from '../src/fs/index.js';

type Cb = (...args: unknown[]) => void;

const [backing, mnt] = process.argv.slice(2);
if (!backing || !mnt) {
  console.error('usage: fuse-floor <backing-dir> <mount-point>');
  process.exit(2);
}

const real = (path: string): string => join(backing, path);
const errno = (err: unknown): number => (err as NodeJS.ErrnoException).errno ?? -os.errno.EIO;

function statOf(s: import('node:fs').Stats): Record<string, number> {
  return {
    mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, nlink: s.nlink, ino: s.ino, rdev: s.rdev,
    blksize: s.blksize, blocks: s.blocks, atime: s.atimeMs, mtime: s.mtimeMs, ctime: s.ctimeMs,
  };
}

/** An op over a promise: cb(0, value) or cb(errno). */
const call =
  <A extends unknown[], T>(fn: (path: string, ...args: A) => Promise<T>, reply: (cb: Cb, v: T) => void = (cb) => cb(0)) =>
  (path: string, ...rest: unknown[]): void => {
    const cb = rest.pop() as Cb;
    fn(path, ...(rest as A)).then(
      (v) => reply(cb, v),
      (err: unknown) => cb(errno(err)),
    );
  };

const ops: Record<string, (...args: any[]) => void> = {
  init: (cb: Cb) => cb(0),
  getattr: call((p) => fsp.lstat(real(p)), (cb, s) => cb(0, statOf(s))),
  fgetattr: call((p) => fsp.lstat(real(p)), (cb, s) => cb(0, statOf(s))),
  access: call((p, mode: number) => fsp.access(real(p), mode)),
  statfs: (_p: string, cb: Cb) => cb(0, { bsize: 4096, frsize: 4096, blocks: 1 << 24, bfree: 1 << 23, bavail: 1 << 23, files: 1 << 20, ffree: 1 << 19, favail: 1 << 19, fsid: 0, flag: 0, namemax: 255 }),
  readdir: call((p) => fsp.readdir(real(p)), (cb, names) => cb(0, names)),
  mkdir: call((p, mode: number) => fsp.mkdir(real(p), mode).then(() => undefined)),
  rmdir: call((p) => fsp.rmdir(real(p))),
  unlink: call((p) => fsp.unlink(real(p))),
  rename: call((p, dest: string) => fsp.rename(real(p), real(dest))),
  link: call((p, dest: string) => fsp.link(real(p), real(dest))),
  symlink: call((target, dest: string) => fsp.symlink(target, real(dest))),
  readlink: call((p) => fsp.readlink(real(p)), (cb, t) => cb(0, t)),
  chmod: call((p, mode: number) => fsp.chmod(real(p), mode)),
  chown: call((p, uid: number, gid: number) => fsp.lchown(real(p), uid, gid)),
  utimens: call((p, atime: number, mtime: number) => fsp.utimes(real(p), atime / 1000, mtime / 1000)),
  truncate: call((p, size: number) => fsp.truncate(real(p), size)),
  // File descriptors of the backing files are the handles: no table, no copies.
  create: (p: string, mode: number, cb: Cb) => open(real(p), constants.O_CREAT | constants.O_RDWR, mode, (err, fd) => (err ? cb(errno(err)) : cb(0, fd))),
  open: (p: string, flags: number, cb: Cb) => open(real(p), flags & ~constants.O_CREAT, (err, fd) => (err ? cb(errno(err)) : cb(0, fd))),
  read: (_p: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => read(fd, buf, 0, len, pos, (err, n) => cb(err ? errno(err) : n)),
  write: (_p: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => write(fd, buf, 0, len, pos, (err, n) => cb(err ? errno(err) : n)),
  ftruncate: (_p: string, fd: number, size: number, cb: Cb) => ftruncate(fd, size, (err) => cb(err ? errno(err) : 0)),
  fsync: (_p: string, _datasync: number, fd: number, cb: Cb) => fsync(fd, (err) => cb(err ? errno(err) : 0)),
  flush: (_p: string, _fd: number, cb: Cb) => cb(0),
  release: (_p: string, fd: number, cb: Cb) => close(fd, (err) => cb(err ? errno(err) : 0)),
  // atefs answers security.capability from memory; so does the floor (no xattrs stored).
  getxattr: (_p: string, _name: string, _pos: number, cb: Cb) => cb(-os.errno.ENODATA),
  listxattr: (_p: string, cb: Cb) => cb(0, []),
};

class FloorFuse extends Fuse {
  override _fuseOptions(): string {
    const extra = fuseOptions({ readOnly: false, nonEmpty: false, name: 'fuse-floor' });
    const base = super._fuseOptions();
    return base ? `${base},${extra.join(',')}` : `-o${extra.join(',')}`;
  }
}

const fuse = new FloorFuse(mnt, ops, {});
fuse.mount((err) => {
  if (err) {
    console.error(`fuse-floor: cannot mount ${mnt}: ${err.message}`);
    process.exit(1);
  }
});
const stop = (): void => fuse.unmount(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
