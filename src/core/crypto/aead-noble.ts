// The portable twin of aead.ts: the same bytes through pure-JS @noble/ciphers, for runtimes
// without node:crypto and as an independent check of the node path.
import { gcm } from '@noble/ciphers/aes.js';
import { NONCE_BYTES, SEAL_OVERHEAD, type SymmetricKey, decryptFailed } from './aead.js';
import { randomBytes } from './random.js';

export function sealNoble(key: SymmetricKey, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE_BYTES);
  const body = gcm(key, nonce, aad).encrypt(plaintext); // ciphertext || tag
  const out = new Uint8Array(NONCE_BYTES + body.length);
  out.set(nonce);
  out.set(body, NONCE_BYTES);
  return out;
}

export function openNoble(key: SymmetricKey, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
  if (!(sealed instanceof Uint8Array) || sealed.length < SEAL_OVERHEAD) throw decryptFailed();
  try {
    return gcm(key, sealed.subarray(0, NONCE_BYTES), aad).decrypt(sealed.subarray(NONCE_BYTES));
  } catch (cause) {
    throw decryptFailed(cause);
  }
}
