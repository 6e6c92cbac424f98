// Hybrid key encapsulation: ML-KEM-768 with X25519 (X-Wing, @noble/post-quantum's ml_kem768_x25519),
// secure while either half holds. Used for the wire handshake and to seal data to a user's public key.
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { KeyFormatError } from '../errors.js';
import { utf8 } from './bytes.js';
import { SEAL_OVERHEAD, type SymmetricKey, decryptFailed, open, seal } from './aead.js';
import { type Hash, hash } from './hash.js';
import { randomBytes } from './random.js';

export interface PublicReadKey {
  readonly bytes: Uint8Array;
}

export interface PrivateReadKey {
  readonly publicKey: Uint8Array;
  /** The 32-byte seed the whole key pair expands from. */
  readonly secretKey: Uint8Array;
}

export const READ_PUBLIC_KEY_BYTES = 1216;
export const READ_SECRET_KEY_BYTES = 32;
export const KEM_CIPHERTEXT_BYTES = 1120;
export const READ_SEED_BYTES = 32;

const SEAL_LABEL = utf8('ate/kem-seal');
const READ_KEY_ID_LABEL = utf8('ate/read-key-id');

/** A new key pair; with a 32-byte `seed` the same seed always gives the same pair. */
export function generateReadKeyPair(seed?: Uint8Array): PrivateReadKey {
  if (seed !== undefined && (!(seed instanceof Uint8Array) || seed.length !== READ_SEED_BYTES)) {
    throw new KeyFormatError(`a read key seed is ${READ_SEED_BYTES} bytes`);
  }
  const { publicKey, secretKey } = ml_kem768_x25519.keygen(seed ?? randomBytes(READ_SEED_BYTES));
  return { publicKey, secretKey };
}

export const publicReadKey = (k: PrivateReadKey): PublicReadKey => ({ bytes: k.publicKey });

/** A fresh shared secret (32 bytes) and the ciphertext that lets only `pub`'s owner recover it. */
export function encapsulate(pub: PublicReadKey): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  if (!(pub?.bytes instanceof Uint8Array) || pub.bytes.length !== READ_PUBLIC_KEY_BYTES) {
    throw new KeyFormatError(`a public read key is ${READ_PUBLIC_KEY_BYTES} bytes`);
  }
  return ml_kem768_x25519.encapsulate(pub.bytes);
}

/**
 * The shared secret inside `cipherText`. A wrong key gives an unrelated secret rather than an error
 * (ML-KEM's implicit rejection): the AEAD that uses the secret is what detects it. DecryptError on a
 * malformed ciphertext.
 */
export function decapsulate(priv: PrivateReadKey, cipherText: Uint8Array): Uint8Array {
  if (!(priv?.secretKey instanceof Uint8Array) || priv.secretKey.length !== READ_SECRET_KEY_BYTES) {
    throw new KeyFormatError(`a private read key is ${READ_SECRET_KEY_BYTES} bytes`);
  }
  if (!(cipherText instanceof Uint8Array) || cipherText.length !== KEM_CIPHERTEXT_BYTES) throw decryptFailed();
  try {
    return ml_kem768_x25519.decapsulate(cipherText, priv.secretKey);
  } catch (cause) {
    throw decryptFailed(cause); // e.g. an X25519 share that is a low-order point
  }
}

// Binding the KEM ciphertext into the AES key ties the sealed body to this one encapsulation.
const sealKey = (sharedSecret: Uint8Array, cipherText: Uint8Array): SymmetricKey =>
  hash(SEAL_LABEL, sharedSecret, cipherText) as Uint8Array as SymmetricKey;

/** Encrypts to a public key: kemCiphertext(1120) || seal(aesKey, plaintext, aad). */
export function sealTo(pub: PublicReadKey, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  const { cipherText, sharedSecret } = encapsulate(pub);
  const body = seal(sealKey(sharedSecret, cipherText), plaintext, aad);
  const out = new Uint8Array(KEM_CIPHERTEXT_BYTES + body.length);
  out.set(cipherText);
  out.set(body, KEM_CIPHERTEXT_BYTES);
  return out;
}

/** The plaintext sealTo sealed; DecryptError on a wrong key, wrong aad, tampering or truncation. */
export function openSealed(priv: PrivateReadKey, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
  if (!(sealed instanceof Uint8Array) || sealed.length < KEM_CIPHERTEXT_BYTES + SEAL_OVERHEAD) throw decryptFailed();
  const cipherText = sealed.subarray(0, KEM_CIPHERTEXT_BYTES);
  return open(sealKey(decapsulate(priv, cipherText), cipherText), sealed.subarray(KEM_CIPHERTEXT_BYTES), aad);
}

/** The public identifier of a read key. */
export const readKeyHash = (pub: PublicReadKey): Hash => hash(READ_KEY_ID_LABEL, pub.bytes);
