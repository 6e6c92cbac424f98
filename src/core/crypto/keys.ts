// One tagged serialization for every key type, so that key files, sessions and tokens hold any key.
// Binary form: msgpack of a plain array [version, kind, ...fields]; text form for files:
// 'ate-key:<kind>:<base64url of the binary form>'.
import { Packr } from 'msgpackr';
import { KeyFormatError } from '../errors.js';
import { SYMMETRIC_KEY_BYTES, type SymmetricKey, symmetricKeyHash } from './aead.js';
import { type Hash } from './hash.js';
import { type PrivateReadKey, type PublicReadKey, READ_PUBLIC_KEY_BYTES, READ_SECRET_KEY_BYTES, publicReadKey, readKeyHash } from './kem.js';
import {
  type PrivateSignKey,
  type PublicSignKey,
  publicSignKey,
  signAlgorithmFromTag,
  signAlgorithmTag,
  signKeyHash,
  signKeyLengths,
} from './sign.js';

export type AnyKey =
  | { kind: 'symmetric'; key: SymmetricKey }
  | { kind: 'sign-private'; key: PrivateSignKey }
  | { kind: 'sign-public'; key: PublicSignKey }
  | { kind: 'read-private'; key: PrivateReadKey }
  | { kind: 'read-public'; key: PublicReadKey };

export type KeyKind = AnyKey['kind'];

const KEY_FORMAT_VERSION = 1;

// Stable numbers: they are stored in key files and tokens.
const KIND_TAGS: Record<KeyKind, number> = {
  symmetric: 1,
  'sign-private': 2,
  'sign-public': 3,
  'read-private': 4,
  'read-public': 5,
};
const KIND_BY_TAG = new Map(Object.entries(KIND_TAGS).map(([kind, tag]) => [tag, kind as KeyKind]));

/** The same fixed configuration as event encoding: plain arrays and binaries, no record extensions. */
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

function fields(k: AnyKey): unknown[] {
  switch (k.kind) {
    case 'symmetric':
      return [k.key];
    case 'sign-private':
      return [signAlgorithmTag(k.key.alg), k.key.publicKey, k.key.secretKey];
    case 'sign-public':
      return [signAlgorithmTag(k.key.alg), k.key.bytes];
    case 'read-private':
      return [k.key.publicKey, k.key.secretKey];
    case 'read-public':
      return [k.key.bytes];
  }
}

export function encodeKey(k: AnyKey): Uint8Array {
  const tag = KIND_TAGS[k.kind];
  if (tag === undefined) throw new KeyFormatError(`unknown key kind ${String(k.kind)}`);
  // Copied out: pack returns a view into msgpackr's shared scratch buffer.
  return new Uint8Array(packr.pack([KEY_FORMAT_VERSION, tag, ...fields(k)]));
}

/** A field of exactly `length` bytes, copied so the key neither aliases nor pins the input. */
function bytesField(v: unknown, length: number, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== length) throw new KeyFormatError(`${what} must be ${length} bytes`);
  return new Uint8Array(v);
}

function decodeFields(kind: KeyKind, f: unknown[]): AnyKey {
  const arity = (n: number): void => {
    if (f.length !== n) throw new KeyFormatError(`a ${kind} key has ${n} fields, found ${f.length}`);
  };
  switch (kind) {
    case 'symmetric':
      arity(1);
      return { kind, key: bytesField(f[0], SYMMETRIC_KEY_BYTES, 'a symmetric key') as SymmetricKey };
    case 'sign-private': {
      arity(3);
      const alg = signAlgorithmFromTag(f[0]);
      const len = signKeyLengths(alg);
      return {
        kind,
        key: { alg, publicKey: bytesField(f[1], len.publicKey, `an ${alg} public key`), secretKey: bytesField(f[2], len.secretKey, `an ${alg} secret key`) },
      };
    }
    case 'sign-public': {
      arity(2);
      const alg = signAlgorithmFromTag(f[0]);
      return { kind, key: { alg, bytes: bytesField(f[1], signKeyLengths(alg).publicKey, `an ${alg} public key`) } };
    }
    case 'read-private':
      arity(2);
      return {
        kind,
        key: {
          publicKey: bytesField(f[0], READ_PUBLIC_KEY_BYTES, 'a public read key'),
          secretKey: bytesField(f[1], READ_SECRET_KEY_BYTES, 'a private read key'),
        },
      };
    case 'read-public':
      arity(1);
      return { kind, key: { bytes: bytesField(f[0], READ_PUBLIC_KEY_BYTES, 'a public read key') } };
  }
}

/** The key `bytes` encode; KeyFormatError (and nothing else) on anything malformed. */
export function decodeKey(bytes: Uint8Array): AnyKey {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (cause) {
    throw new KeyFormatError('not a serialized key (undecodable bytes)', { cause });
  }
  if (!Array.isArray(value) || value.length < 2) throw new KeyFormatError('not a serialized key');
  const [version, tag, ...rest] = value as unknown[];
  if (version !== KEY_FORMAT_VERSION) throw new KeyFormatError(`unsupported key format version ${String(version)}; upgrade ate`);
  const kind = KIND_BY_TAG.get(tag as number);
  if (!kind) throw new KeyFormatError(`unknown key kind number ${String(tag)}`);
  return decodeFields(kind, rest);
}

const TEXT_PREFIX = 'ate-key';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** 'ate-key:<kind>:<base64url>': one line, safe in files, environment variables and URLs. */
export const encodeKeyText = (k: AnyKey): string => `${TEXT_PREFIX}:${k.kind}:${Buffer.from(encodeKey(k)).toString('base64url')}`;

/** The key of a text form (surrounding whitespace, such as a file's final newline, is ignored). */
export function decodeKeyText(text: string): AnyKey {
  const parts = typeof text === 'string' ? text.trim().split(':') : [];
  const [prefix, kind, body] = parts;
  if (parts.length !== 3 || prefix !== TEXT_PREFIX || body === undefined || !BASE64URL.test(body)) {
    throw new KeyFormatError(`not an ATE key (expected '${TEXT_PREFIX}:<kind>:<base64url>')`);
  }
  const k = decodeKey(new Uint8Array(Buffer.from(body, 'base64url')));
  if (k.kind !== kind) throw new KeyFormatError(`the key text says '${kind}' but holds a ${k.kind} key`);
  return k;
}

/** The public identifier of any key; for a key pair, that of its public half. */
export function keyId(k: AnyKey): Hash {
  switch (k.kind) {
    case 'symmetric':
      return symmetricKeyHash(k.key);
    case 'sign-private':
      return signKeyHash(publicSignKey(k.key));
    case 'sign-public':
      return signKeyHash(k.key);
    case 'read-private':
      return readKeyHash(publicReadKey(k.key));
    case 'read-public':
      return readKeyHash(k.key);
  }
}

/** A short human-readable form of a key id, e.g. 'a1b2-c3d4-e5f6-0718' (its first 8 bytes). */
export function fingerprint(id: Uint8Array): string {
  if (!(id instanceof Uint8Array) || id.length < 8) throw new KeyFormatError('a key id has at least 8 bytes');
  const hex = Buffer.from(id.buffer, id.byteOffset, 8).toString('hex');
  return `${hex.slice(0, 4)}-${hex.slice(4, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}`;
}
