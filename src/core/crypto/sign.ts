// Post-quantum signatures from @noble/post-quantum: ML-DSA-65 (FIPS 204) by default, Falcon-512 as
// an option (smaller signatures, slower keygen). A sign costs 5-12 ms: see signer-pool.ts.
import { createHash } from 'node:crypto';
import { falcon512 } from '@noble/post-quantum/falcon.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { KeyFormatError } from '../errors.js';
import { utf8 } from './bytes.js';
import { type Hash, hash } from './hash.js';
import { randomBytes } from './random.js';

export type SignAlgorithm = 'ml-dsa-65' | 'falcon-512';

export interface PublicSignKey {
  readonly alg: SignAlgorithm;
  readonly bytes: Uint8Array;
}

export interface PrivateSignKey {
  readonly alg: SignAlgorithm;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** Bytes of the seed that makes keygen deterministic, for every algorithm. */
export const SIGN_SEED_BYTES = 32;

interface Scheme {
  /** The algorithm's number in serialized keys and key ids. */
  readonly tag: number;
  readonly publicKeyBytes: number;
  readonly secretKeyBytes: number;
  /** Turns our 32-byte seed into the seed the algorithm's keygen takes. */
  readonly expandSeed: (seed: Uint8Array) => Uint8Array;
  readonly keygen: (seed: Uint8Array) => { publicKey: Uint8Array; secretKey: Uint8Array };
  readonly sign: (message: Uint8Array, secretKey: Uint8Array) => Uint8Array;
  readonly verify: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
}

// Falcon's keygen takes a 48-byte seed; SHAKE256 under our own label stretches 32 bytes to it.
const FALCON_SEED_LABEL = utf8('ate/falcon-512-seed');
const falconSeed = (seed: Uint8Array): Uint8Array =>
  createHash('shake256', { outputLength: falcon512.lengths.seed }).update(FALCON_SEED_LABEL).update(seed).digest();

const SCHEMES = new Map<SignAlgorithm, Scheme>([
  [
    'ml-dsa-65',
    {
      tag: 1,
      publicKeyBytes: 1952,
      secretKeyBytes: 4032,
      expandSeed: (seed) => seed,
      keygen: ml_dsa65.keygen,
      sign: ml_dsa65.sign,
      verify: ml_dsa65.verify,
    },
  ],
  [
    'falcon-512',
    {
      tag: 2,
      publicKeyBytes: 897,
      secretKeyBytes: 1281,
      expandSeed: falconSeed,
      keygen: falcon512.keygen,
      sign: falcon512.sign,
      verify: falcon512.verify,
    },
  ],
]);
const BY_TAG = new Map([...SCHEMES].map(([alg, s]) => [s.tag, alg]));

function scheme(alg: SignAlgorithm): Scheme {
  const s = SCHEMES.get(alg);
  if (!s) throw new KeyFormatError(`unknown signature algorithm ${String(alg)}`);
  return s;
}

/** The algorithm's number in serialized keys. */
export const signAlgorithmTag = (alg: SignAlgorithm): number => scheme(alg).tag;

/** The algorithm a serialized number names; KeyFormatError if none. */
export function signAlgorithmFromTag(tag: unknown): SignAlgorithm {
  const alg = BY_TAG.get(tag as number);
  if (!alg) throw new KeyFormatError(`unknown signature algorithm number ${String(tag)}`);
  return alg;
}

/** Exact key lengths of an algorithm, for validating decoded keys. */
export function signKeyLengths(alg: SignAlgorithm): { publicKey: number; secretKey: number } {
  const s = scheme(alg);
  return { publicKey: s.publicKeyBytes, secretKey: s.secretKeyBytes };
}

/** A new key pair; with a 32-byte `seed` the same seed always gives the same pair. */
export function generateSignKey(alg: SignAlgorithm = 'ml-dsa-65', seed?: Uint8Array): PrivateSignKey {
  const s = scheme(alg);
  if (seed !== undefined && (!(seed instanceof Uint8Array) || seed.length !== SIGN_SEED_BYTES)) {
    throw new KeyFormatError(`a signing key seed is ${SIGN_SEED_BYTES} bytes`);
  }
  const { publicKey, secretKey } = s.keygen(s.expandSeed(seed ?? randomBytes(SIGN_SEED_BYTES)));
  return { alg, publicKey, secretKey };
}

// One public key object per private key, so that the signKeyHash cache below hits for repeated calls.
const publicOf = new WeakMap<PrivateSignKey, PublicSignKey>();

export function publicSignKey(k: PrivateSignKey): PublicSignKey {
  let pub = publicOf.get(k);
  if (!pub) {
    pub = { alg: k.alg, bytes: k.publicKey };
    publicOf.set(k, pub);
  }
  return pub;
}

export const sign = (k: PrivateSignKey, message: Uint8Array): Uint8Array => scheme(k.alg).sign(message, k.secretKey);

/** Whether `signature` is `pub`'s signature of `message`; false (never a throw) for any garbage. */
export function verify(pub: PublicSignKey, message: Uint8Array, signature: Uint8Array): boolean {
  const s = SCHEMES.get(pub?.alg);
  if (!s) return false;
  try {
    return s.verify(signature, message, pub.bytes) === true;
  } catch {
    return false;
  }
}

const SIGN_KEY_ID_LABEL = utf8('ate/sign-key-id');
// Key ids are looked up on hot paths (every signature check names its key); hash each key once.
const signKeyHashes = new WeakMap<PublicSignKey, Hash>();

/** The public identifier of a signing key. */
export function signKeyHash(pub: PublicSignKey): Hash {
  let id = signKeyHashes.get(pub);
  if (!id) {
    id = hash(SIGN_KEY_ID_LABEL, Uint8Array.of(signAlgorithmTag(pub.alg)), pub.bytes);
    signKeyHashes.set(pub, id);
  }
  return id;
}
