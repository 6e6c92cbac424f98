// Errors of the filesystem: an FsError carries the errno a FUSE operation answers with, and
// errnoOf maps anything else (engine errors, system errors) onto Linux errno values.
import { constants } from 'node:os';
import { ClosedError, DecryptError, LockError, MissingReadKeyError, MissingWriteKeyError, NotFoundError } from '../core/index.js';

const E = constants.errno;

export const ENOENT = E.ENOENT;
export const EIO = E.EIO;
export const EBADF = E.EBADF;
export const EACCES = E.EACCES;
export const EBUSY = E.EBUSY;
export const EEXIST = E.EEXIST;
export const EXDEV = E.EXDEV;
export const ENOTDIR = E.ENOTDIR;
export const EISDIR = E.EISDIR;
export const EINVAL = E.EINVAL;
export const EFBIG = E.EFBIG;
export const ENOSPC = E.ENOSPC;
export const EROFS = E.EROFS;
export const EMLINK = E.EMLINK;
export const ERANGE = E.ERANGE;
export const ENAMETOOLONG = E.ENAMETOOLONG;
export const ENOSYS = E.ENOSYS;
export const ENOTEMPTY = E.ENOTEMPTY;
export const ENODATA = E.ENODATA;
export const EOPNOTSUPP = E.EOPNOTSUPP;
export const EPERM = E.EPERM;
export const E2BIG = E.E2BIG;

/** A failure with a definite errno (positive, as in errno.h). */
export class FsError extends Error {
  constructor(
    readonly errno: number,
    message = '',
  ) {
    // Expected outcomes (ENOENT on lookup, ENODATA on getxattr) are frequent: no stack trace.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message || `errno ${errno}`);
    Error.stackTraceLimit = limit;
    this.name = 'FsError';
  }
}

export function fail(errno: number, message?: string): never {
  throw new FsError(errno, message);
}

const NODE_CODES = new Map<string, number>(Object.entries(E));

/** True when errnoOf maps the error to EIO because nothing more definite is known. */
export function isUnexpected(err: unknown): boolean {
  return errnoOf(err) === -EIO && !(err instanceof FsError);
}

/**
 * The errno (negative, as fuse-native's callbacks expect) for an error: FsError carries its own;
 * NotFoundError -> ENOENT; missing read or write key -> EACCES; LockError -> EBUSY; system errors
 * keep theirs (ENOSPC from the log, for example); anything else -> EIO.
 */
export function errnoOf(err: unknown): number {
  if (err instanceof FsError) return -err.errno;
  if (err instanceof NotFoundError) return -ENOENT;
  if (err instanceof MissingReadKeyError || err instanceof MissingWriteKeyError) return -EACCES;
  if (err instanceof LockError) return -EBUSY;
  if (err instanceof DecryptError || err instanceof ClosedError) return -EIO;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') {
    const n = NODE_CODES.get(code);
    if (n !== undefined) return -n;
  }
  return -EIO;
}
