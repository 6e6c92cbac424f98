// Every error the engine raises is an AteError with a stable `code` and a one-line message
// that names the cause and, where the user can act, the fix. The CLI prints `message` alone.

export class AteError extends Error {
  readonly code: string = 'ATE_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A file opened as a redo log is not one (wrong magic), or belongs to another chain. */
export class LogForeignFileError extends AteError {
  override readonly code = 'LOG_FOREIGN_FILE';
  constructor(readonly file: string, reason: string) {
    super(`${file} is not an ATE redo log for this chain (${reason}); check the log path`);
  }
}

/** A redo log is damaged before its tail: data after the damage exists, so it is never silently dropped. */
export class LogCorruptError extends AteError {
  override readonly code = 'LOG_CORRUPT';
  constructor(readonly file: string, readonly offset: number, reason: string) {
    super(`${file} is corrupt at byte offset ${offset} (${reason}); restore it from a replica or backup`);
  }
}

/** The log was written by a newer format version. */
export class LogVersionError extends AteError {
  override readonly code = 'LOG_VERSION';
  constructor(readonly file: string, version: number) {
    super(`${file} uses log format version ${version}, which this build cannot read; upgrade ate`);
  }
}

/** Bytes that should decode as an event or message do not. */
export class DecodeError extends AteError {
  override readonly code = 'DECODE';
}

/** Authenticated decryption failed: wrong key or tampered ciphertext. */
export class DecryptError extends AteError {
  override readonly code = 'DECRYPT';
}

/** A key file, token or serialized key is malformed. */
export class KeyFormatError extends AteError {
  override readonly code = 'KEY_FORMAT';
}

/** An event was refused by the chain's validators; `reasons` lists every Deny. */
export class ValidationError extends AteError {
  override readonly code: string = 'VALIDATION';
  constructor(message: string, readonly reasons: string[] = [message]) {
    super(message);
  }
}

/** The event's signature is missing, does not verify, or its signer lacks write authority. */
export class TrustError extends ValidationError {
  override readonly code = 'TRUST';
}

/** The event's hash was seen before. */
export class ReplayError extends ValidationError {
  override readonly code = 'REPLAY';
}

/** The event's timestamp is missing or outside the chain's tolerance. */
export class TimeError extends ValidationError {
  override readonly code = 'TIME';
}

/** A commit could not be applied; nothing of it is visible. */
export class CommitError extends AteError {
  override readonly code: string = 'COMMIT';
}

/** The chain refuses parentless objects (disable-new-roots). */
export class NewRootsDisabledError extends CommitError {
  override readonly code = 'NEW_ROOTS_DISABLED';
  constructor() {
    super('this chain refuses new root objects; attach the object to a parent');
  }
}

/** The session holds no write key that the object's authority accepts. */
export class MissingWriteKeyError extends CommitError {
  override readonly code = 'MISSING_WRITE_KEY';
}

/** The object does not exist (or was deleted). */
export class NotFoundError extends AteError {
  override readonly code = 'NOT_FOUND';
}

/** The session holds no key able to read the object. */
export class MissingReadKeyError extends AteError {
  override readonly code = 'MISSING_READ_KEY';
}

/** The object is locked by another transaction. */
export class LockError extends AteError {
  override readonly code = 'LOCKED';
}

/** A service invocation got no reply in time. */
export class TimeoutError extends AteError {
  override readonly code = 'TIMEOUT';
}

/** The chain or transaction was closed or cancelled before the operation finished. */
export class ClosedError extends AteError {
  override readonly code = 'CLOSED';
}

/** A write to something open read-only (for example a chain opened in the past). */
export class ReadOnlyError extends AteError {
  override readonly code = 'READ_ONLY';
}

/** Configuration or argument that cannot work. */
export class ConfigError extends AteError {
  override readonly code = 'CONFIG';
}

/** Bytes on a connection that do not follow the wire protocol (docs/FORMAT.md "Wire protocol"). */
export class WireError extends AteError {
  override readonly code = 'WIRE';
}

/** A server, or the network path to it, failed: unreachable, refused the connection, or closed it. */
export class MeshError extends AteError {
  override readonly code = 'MESH';
}

/** A server presented an identity key other than the one pinned for it (or given on the command line). */
export class ServerIdentityError extends AteError {
  override readonly code = 'SERVER_IDENTITY';
}
