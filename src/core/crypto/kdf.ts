// Key derivation. Passwords go through salted scrypt (memory-hard, so guessing is slow); secrets
// that already carry full entropy (random seeds, shared secrets) need only one hash.
import { scrypt } from 'node:crypto';
import { ConfigError, KeyFormatError } from '../errors.js';
import { type SymmetricKey, SYMMETRIC_KEY_BYTES } from './aead.js';
import { plain, utf8 } from './bytes.js';
import { hash } from './hash.js';
import { randomBytes } from './random.js';

export interface KdfParams {
  /** CPU/memory cost, a power of two; memory used is 128 * N * r bytes. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** 64 MiB per derivation; measured 245-275 ms on these 2-core machines (Node 20). */
export const DEFAULT_KDF: KdfParams = Object.freeze({ N: 2 ** 16, r: 8, p: 1 });
/** 1 MiB, ~5 ms, weak on purpose: for tests only, never for stored secrets. */
export const FAST_KDF_FOR_TESTS: KdfParams = Object.freeze({ N: 2 ** 10, r: 8, p: 1 });

export const SALT_BYTES = 16;

export const newSalt = (): Uint8Array => randomBytes(SALT_BYTES);

/** The key a password gives with this salt and these parameters (runs on libuv's thread pool). */
export function derivePasswordKey(password: string, salt: Uint8Array, params: KdfParams = DEFAULT_KDF): Promise<SymmetricKey> {
  const { N, r, p } = params;
  if (!(salt instanceof Uint8Array) || salt.length < SALT_BYTES) {
    return Promise.reject(new ConfigError(`a password salt is at least ${SALT_BYTES} random bytes; make one with newSalt()`));
  }
  // NFKC, so that the same password typed on different keyboards or systems gives the same key.
  const normalized = password.normalize('NFKC');
  // OpenSSL needs 128*r*(N+p+2) bytes; node's default cap (32 MiB) is below DEFAULT_KDF's need.
  const maxmem = 128 * r * (N + p + 2);
  const invalid = (cause: unknown): ConfigError =>
    new ConfigError(`invalid KDF parameters N=${N} r=${r} p=${p} (N must be a power of two above 1)`, { cause });
  return new Promise((resolve, reject) => {
    try {
      scrypt(normalized, salt, SYMMETRIC_KEY_BYTES, { N, r, p, maxmem }, (err, key) => {
        if (err) reject(invalid(err));
        else resolve(plain(key) as SymmetricKey);
      });
    } catch (cause) {
      reject(invalid(cause)); // node checks the parameters synchronously
    }
  });
}

const SEED_KEY_LABEL = utf8('ate/seed-key');
export const MIN_SEED_BYTES = 16;

/**
 * A key derived from a high-entropy secret for one purpose (`context`). Never for passwords: one hash
 * makes guessing cheap. The context is length-prefixed so that no (context, seed) pair collides
 * with another.
 */
export function keyFromSeed(seed: Uint8Array, context: string): SymmetricKey {
  if (!(seed instanceof Uint8Array) || seed.length < MIN_SEED_BYTES) {
    throw new KeyFormatError(`a key seed is at least ${MIN_SEED_BYTES} bytes of high-entropy secret`);
  }
  const ctx = utf8(context);
  if (ctx.length > 0xffff) throw new ConfigError('a key derivation context is at most 65535 bytes');
  return hash(SEED_KEY_LABEL, Uint8Array.of(ctx.length >> 8, ctx.length & 0xff), ctx, seed) as Uint8Array as SymmetricKey;
}
