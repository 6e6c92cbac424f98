// Branded identifiers. Plain strings keep them cheap as Map keys and readable in logs;
// the brands stop a chain name being passed where an object key is expected.
import { hash, randomBytes } from 'node:crypto';
import { ConfigError, DecodeError } from '../errors.js';

/** An object's key inside a chain: 64 bits as 16 lowercase hex digits. */
export type PrimaryKey = string & { readonly __brand: 'PrimaryKey' };
/** A chain's name: '/'-prefixed path segments. */
export type ChainKey = string & { readonly __brand: 'ChainKey' };
/** An event's identity: SHA-256 of its stored bytes, as 64 hex digits. */
export type EventId = string & { readonly __brand: 'EventId' };
/** A collection inside a parent object (a DaoVec): a 32-bit number. */
export type CollectionId = number & { readonly __brand: 'CollectionId' };

const HEX16 = /^[0-9a-f]{16}$/;

// One CSPRNG call costs a few microseconds, more than the rest of making a key; draw many at once.
const KEYS_PER_DRAW = 512;
let pool: Buffer = Buffer.alloc(0);
let poolAt = 0;

export function randomPrimaryKey(): PrimaryKey {
  if (poolAt === pool.length) {
    pool = randomBytes(8 * KEYS_PER_DRAW);
    poolAt = 0;
  }
  poolAt += 8;
  return pool.toString('hex', poolAt - 8, poolAt) as PrimaryKey;
}

/** The key a name always maps to: the first 8 bytes of its hash. */
export function primaryKeyFromName(name: string): PrimaryKey {
  // One-shot: the hash of the concatenation, without a Hash object per key (the filesystem makes several per file).
  return hash('sha256', `ate/primary-key${name}`, 'buffer').toString('hex', 0, 8) as PrimaryKey;
}

export function primaryKey(hex: string): PrimaryKey {
  if (!HEX16.test(hex)) throw new DecodeError(`"${hex}" is not a primary key (16 lowercase hex digits)`);
  return hex as PrimaryKey;
}

export function primaryKeyBytes(key: PrimaryKey): Buffer {
  return Buffer.from(key, 'hex');
}

export function primaryKeyFromBytes(bytes: Uint8Array): PrimaryKey {
  if (bytes.length !== 8) throw new DecodeError(`a primary key has 8 bytes, got ${bytes.length}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('hex') as PrimaryKey;
}

export function randomCollectionId(): CollectionId {
  return parseInt(randomPrimaryKey().slice(0, 8), 16) as CollectionId;
}

const SEGMENT = /^[A-Za-z0-9._@+=-]+$/;

/**
 * Validates a chain name. Chain names become file paths and URL paths, so only plain
 * segments are accepted: no '..', no '~', no empty segments, no control characters.
 */
export function chainKey(name: string): ChainKey {
  const withSlash = name.startsWith('/') ? name : `/${name}`;
  const segments = withSlash.slice(1).split('/');
  const bad = segments.find((s) => s === '' || s === '.' || s === '..' || s.startsWith('~') || !SEGMENT.test(s));
  if (bad !== undefined || withSlash.length > 512) {
    throw new ConfigError(
      `"${name}" is not a valid chain name: use '/'-separated segments of letters, digits and . _ @ + = - (no '..', '~' or empty segments)`,
    );
  }
  return withSlash as ChainKey;
}

export function eventIdFromHash(hash: Uint8Array): EventId {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex') as EventId;
}

export function eventIdBytes(id: EventId): Buffer {
  return Buffer.from(id, 'hex');
}
