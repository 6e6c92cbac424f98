// The crypto API: the only code in ATE that calls crypto libraries.
export { type Hash, HASH_BYTES, hash, toHex, fromHex, equalBytes } from './hash.js';
export { randomBytes } from './random.js';
export {
  type SymmetricKey,
  SYMMETRIC_KEY_BYTES,
  NONCE_BYTES,
  TAG_BYTES,
  SEAL_OVERHEAD,
  generateSymmetricKey,
  symmetricKey,
  symmetricKeyHash,
  seal,
  open,
} from './aead.js';
export { sealNoble, openNoble } from './aead-noble.js';
export { type GcmBits, gcmSeal, gcmOpen } from './gcm.js';
export {
  type SignAlgorithm,
  type PublicSignKey,
  type PrivateSignKey,
  SIGN_SEED_BYTES,
  generateSignKey,
  publicSignKey,
  sign,
  verify,
  signKeyHash,
} from './sign.js';
export { type SignerPoolOptions, SignerPool, defaultSignerPool } from './signer-pool.js';
export { type SealItem, SealPool, SEAL_POOL_THRESHOLD, defaultSealPool } from './seal-pool.js';
export {
  type PublicReadKey,
  type PrivateReadKey,
  READ_PUBLIC_KEY_BYTES,
  READ_SECRET_KEY_BYTES,
  READ_SEED_BYTES,
  KEM_CIPHERTEXT_BYTES,
  generateReadKeyPair,
  publicReadKey,
  encapsulate,
  decapsulate,
  sealTo,
  openSealed,
  readKeyHash,
} from './kem.js';
export {
  type KdfParams,
  DEFAULT_KDF,
  FAST_KDF_FOR_TESTS,
  SALT_BYTES,
  MIN_SEED_BYTES,
  newSalt,
  derivePasswordKey,
  keyFromSeed,
} from './kdf.js';
export { type AnyKey, type KeyKind, encodeKey, decodeKey, encodeKeyText, decodeKeyText, keyId, fingerprint } from './keys.js';
