// AES-GCM with a caller-chosen nonce and key size, for the wire's frames (docs/FORMAT.md "Frames"):
// both ends count frames, so the nonce is a counter that is never sent. Stored data uses aead.ts
// (random nonces, AES-256 only); this is the one place with explicit nonces, and its caller
// guarantees that a (key, nonce) pair is never used twice.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { KeyFormatError } from '../errors.js';
import { NONCE_BYTES, TAG_BYTES, decryptFailed } from './aead.js';

/** Key sizes in bits that gcmSeal takes. */
export type GcmBits = 128 | 192 | 256;

function algorithm(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 24) return 'aes-192-gcm';
  if (key.length === 32) return 'aes-256-gcm';
  throw new KeyFormatError(`an AES-GCM key is 16, 24 or 32 bytes, got ${key.length}`);
}

function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== NONCE_BYTES) throw new KeyFormatError(`an AES-GCM nonce is ${NONCE_BYTES} bytes`);
}

/** ciphertext ‖ 16-byte tag, in one buffer with `headroom` free bytes in front (for a frame header). */
export function gcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, headroom = 0): Buffer {
  checkNonce(nonce);
  const cipher = createCipheriv(algorithm(key), key, nonce);
  const out = Buffer.allocUnsafe(headroom + plaintext.length + TAG_BYTES);
  out.set(cipher.update(plaintext), headroom);
  cipher.final();
  out.set(cipher.getAuthTag(), headroom + plaintext.length);
  return out;
}

/** The plaintext of gcmSeal's output; DecryptError if the key, nonce or bytes are wrong. */
export function gcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer {
  checkNonce(nonce);
  if (sealed.length < TAG_BYTES) throw decryptFailed();
  const tagAt = sealed.length - TAG_BYTES;
  try {
    const decipher = createDecipheriv(algorithm(key), key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(tagAt));
    const plaintext = decipher.update(sealed.subarray(0, tagAt));
    decipher.final();
    return plaintext;
  } catch (cause) {
    throw decryptFailed(cause);
  }
}
