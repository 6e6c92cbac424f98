// The FUSE side: fuse-native's path-based callbacks onto a Volume.
//
// fuse-native 2.2.6 facts this relies on (read in its index.js and fuse-native.c):
// - ops are dispatched to the JS thread, one callback per request; a callback may come later
//   (async), and the FUSE thread that asked waits for it;
// - st_ino is carried as 32 bits and times as milliseconds;
// - mount options are built by _fuseOptions(): extended here;
// - a path may be NULL after hard_remove (the binding then passes garbage): hard_remove is not
//   used, libfuse's .fuse_hidden rename is handled by the Volume instead;
// - getxattr/listxattr hide the caller's buffer size from ops: overridden here to answer ERANGE.
import Fuse from 'fuse-native';
import { detach } from './detach.js';
import { ERANGE, errnoOf, isUnexpected } from './errno.js';
import type { Stat, Volume } from './volume.js';

type Cb = (...args: unknown[]) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Op = (...args: any[]) => void;

// fuse-native's unmount (its _close) calls this static; its own can hang forever (see detach.ts).
Fuse.unmount = (mnt, cb) => {
  detach(mnt).then(() => cb(null), cb);
};

/** Extra libfuse options: fuse-native has no setting for them. */
export class AteFuse extends Fuse {
  constructor(
    mnt: string,
    ops: Record<string, Op>,
    opts: Record<string, unknown>,
    private readonly extra: readonly string[],
    private readonly volume: Volume,
    private readonly report: (op: string, path: string, err: unknown) => number,
  ) {
    super(mnt, ops, opts);
    recoverUtimensMtime(this);
  }

  override _fuseOptions(): string {
    const base = super._fuseOptions();
    const extra = this.extra.join(',');
    if (!extra) return base;
    return base ? `${base},${extra}` : `-o${extra}`;
  }

  _op_getxattr(signal: Cb, path: string, name: string, valueBuf: Buffer, _position: number): void {
    const reply = (value: Buffer): void => {
      if (valueBuf.length === 0) return signal(value.length, valueBuf.buffer);
      if (value.length > valueBuf.length) return signal(-ERANGE, valueBuf.buffer);
      value.copy(valueBuf);
      return signal(value.length, valueBuf.buffer);
    };
    const failed = (err: unknown): void => signal(this.report('getxattr', path, err), valueBuf.buffer);
    let value: Buffer | undefined;
    try {
      value = this.volume.getxattrCached(path, name);
    } catch (err) {
      return failed(err);
    }
    if (value) return reply(value);
    this.volume.getxattr(path, name).then(reply, failed);
  }

  _op_listxattr(signal: Cb, path: string, listBuf: Buffer): void {
    this.volume.listxattr(path).then(
      (names) => {
        let size = 0;
        for (const n of names) size += Buffer.byteLength(n) + 1;
        if (listBuf.length === 0) return signal(size, listBuf.buffer);
        if (size > listBuf.length) return signal(-ERANGE, listBuf.buffer);
        let at = 0;
        for (const n of names) {
          at += listBuf.write(n, at);
          listBuf[at++] = 0;
        }
        return signal(at, listBuf.buffer);
      },
      (err: unknown) => signal(this.report('listxattr', path, err), listBuf.buffer),
    );
  }
}

/** fuse-native's opcode of utimens (fuse-native.c: op_utimens = 12). */
const OP_UTIMENS = 12;
/** Offsets of atime and mtime (size_t, ms) in fuse-native's fuse_thread_locals_t on 64-bit Linux. */
const LOCALS_ATIME = 104;
const LOCALS_MTIME = 112;

/**
 * fuse-native 2.2.6 passes the atime twice to utimens (fuse-native.c:
 * `FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)` where l->mtime was meant), so the mtime never reaches
 * JS. The thread-locals struct it read them from is a Buffer that JS allocated (_malloc) and that
 * the handler receives first: read the mtime there. The atime next to it must equal the atime
 * passed, which checks the layout; otherwise nothing is changed.
 */
function recoverUtimensMtime(fuse: Fuse): void {
  const handlers = (fuse as unknown as { _handlers?: Op[] })._handlers;
  const original = handlers?.[OP_UTIMENS];
  if (!handlers || !original) return;
  handlers[OP_UTIMENS] = (native: unknown, opCode: number, path: string, aLow: number, aHigh: number, mLow: number, mHigh: number): void => {
    if (Buffer.isBuffer(native) && native.length >= LOCALS_MTIME + 8) {
      const atime = Number(native.readBigUInt64LE(LOCALS_ATIME));
      if (atime === aLow + aHigh * 2 ** 32) {
        const mtime = Number(native.readBigUInt64LE(LOCALS_MTIME));
        return original(native, opCode, path, aLow, aHigh, mtime % 2 ** 32, Math.floor(mtime / 2 ** 32));
      }
    }
    return original(native, opCode, path, aLow, aHigh, mLow, mHigh);
  };
}

/** Builds fuse-native's ops object over a volume. `report` turns an error into an errno (and logs the unexpected). */
export function makeOps(vol: Volume, report: (op: string, path: string, err: unknown) => number): Record<string, Op> {
  // Plain result ops: cb(0, value) or cb(errno).
  const call =
    <A extends unknown[], T>(op: string, fn: (path: string, ...args: A) => Promise<T>, reply: (cb: Cb, v: T) => void = (cb) => cb(0)) =>
    (path: string, ...rest: unknown[]): void => {
      const cb = rest.pop() as Cb;
      fn(path, ...(rest as A)).then(
        (v) => reply(cb, v),
        (err: unknown) => cb(report(op, path, err)),
      );
    };
  // Byte-count ops: cb(n) or cb(errno).
  const io =
    (op: string, fn: (fd: number, buf: Buffer, len: number, pos: number) => Promise<number>) =>
    (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb): void => {
      fn(fd, buf, len, pos).then(
        (n) => cb(n),
        (err: unknown) => cb(report(op, path, err)),
      );
    };
  return {
    init: (cb: Cb) => cb(0),
    getattr: (path: string, cb: Cb): void => {
      let st: Stat | undefined;
      try {
        st = vol.getattrCached(path);
      } catch (err) {
        return cb(report('getattr', path, err));
      }
      if (st) return cb(0, st);
      vol.getattr(path).then(
        (s) => cb(0, s),
        (err: unknown) => cb(report('getattr', path, err)),
      );
    },
    access: call('access', (p, mode: number) => vol.access(p, mode)),
    statfs: call('statfs', () => vol.statfs(), (cb, s) => cb(0, s)),
    readdir: call('readdir', (p) => vol.readdir(p), (cb, r) => cb(0, r.names, r.stats)),
    mkdir: call('mkdir', (p, mode: number) => vol.mkdir(p, mode)),
    rmdir: call('rmdir', (p) => vol.rmdir(p)),
    mknod: call('mknod', (p, mode: number, dev: number) => vol.mknod(p, mode, dev)),
    create: call('create', (p, mode: number) => vol.create(p, mode), (cb, fd) => cb(0, fd)),
    open: call('open', (p, flags: number) => vol.open(p, flags), (cb, fd) => cb(0, fd)),
    release: call('release', (_p, fd: number) => vol.release(fd)),
    flush: call('flush', (_p, fd: number) => vol.flush(fd)),
    fsync: call('fsync', (_p, _datasync: number, fd: number) => vol.fsync(fd)),
    fsyncdir: call('fsyncdir', () => vol.fsyncdir()),
    read: io('read', (fd, buf, len, pos) => vol.read(fd, buf, len, pos)),
    write: io('write', (fd, buf, len, pos) => vol.write(fd, buf, len, pos)),
    truncate: call('truncate', (p, size: number) => vol.truncate(p, size)),
    ftruncate: call('ftruncate', (_p, fd: number, size: number) => vol.ftruncate(fd, size)),
    utimens: call('utimens', (p, atime: number, mtime: number) => vol.utimens(p, atime, mtime)),
    chmod: call('chmod', (p, mode: number) => vol.chmod(p, mode)),
    chown: call('chown', (p, uid: number, gid: number) => vol.chown(p, uid, gid)),
    unlink: call('unlink', (p) => vol.unlink(p)),
    rename: call('rename', (p, dest: string) => vol.rename(p, dest)),
    link: call('link', (p, dest: string) => vol.link(p, dest)),
    symlink: call('symlink', (target, dest: string) => vol.symlink(target, dest)),
    readlink: call('readlink', (p) => vol.readlink(p), (cb, t) => cb(0, t)),
    setxattr: (path: string, name: string, value: Buffer, _position: number, flags: number, cb: Cb): void => {
      // The value points into libfuse's memory, valid until the reply: Volume copies it at once.
      vol.setxattr(path, name, value, flags).then(
        () => cb(0),
        (err: unknown) => cb(report('setxattr', path, err)),
      );
    },
    // Present so fuse-native registers them; AteFuse answers these two itself.
    getxattr: (_p: string, _n: string, _pos: number, cb: Cb) => cb(0),
    listxattr: (_p: string, cb: Cb) => cb(0, []),
    removexattr: call('removexattr', (p, name: string) => vol.removexattr(p, name)),
  };
}

/** The reporter used by the ops: errno for every error, one stderr line per distinct unexpected failure. */
export function reporter(log: (line: string) => void): (op: string, path: string, err: unknown) => number {
  const seen = new Set<string>();
  return (op, path, err) => {
    const errno = errnoOf(err);
    if (isUnexpected(err)) {
      const message = (err as Error)?.message ?? String(err);
      const key = `${op}:${message}`;
      if (!seen.has(key) && seen.size < 1000) {
        seen.add(key);
        log(`atefs: ${op} ${path} failed: ${message}`);
      }
    }
    return errno;
  };
}
