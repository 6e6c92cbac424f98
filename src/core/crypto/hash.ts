// SHA-256 through node:crypto (2 GB/s here, against 55 MB/s for a pure-JS BLAKE3).
import { createHash, hash as oneShot, timingSafeEqual } from 'node:crypto';
import { KeyFormatError } from '../errors.js';
import { asBuffer, plain } from './bytes.js';

/** A 32-byte SHA-256 digest. */
export type Hash = Uint8Array & { readonly __brand: 'Hash' };

export const HASH_BYTES = 32;

/** SHA-256 of the concatenation of the parts; each part is fed to the hasher, none is copied. */
export function hash(...parts: Uint8Array[]): Hash {
  // The one-shot call skips the Hash object: a third less time for the common single part.
  if (parts.length === 1) return plain(oneShot('sha256', parts[0]!, 'buffer')) as Hash;
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return plain(h.digest()) as Hash;
}

/** Lowercase hex. */
export const toHex = (bytes: Uint8Array): string => asBuffer(bytes).toString('hex');

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Bytes of a hex string; KeyFormatError on odd length or a non-hex digit (Buffer.from would silently truncate). */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || !HEX.test(hex)) throw new KeyFormatError('not a hex string (expected an even number of 0-9a-f digits)');
  return plain(Buffer.from(hex, 'hex'));
}

/** Byte equality, constant time when the lengths are equal (lengths are not secret). */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b);
