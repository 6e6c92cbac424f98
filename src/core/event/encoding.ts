// Byte encoding of events (docs/FORMAT.md "Events"). The stored bytes are what is hashed,
// signed and sent; they are never re-encoded to verify.
import { hash } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { PublicSignKey, SignAlgorithm } from '../crypto/index.js';
import { DecodeError } from '../errors.js';
import {
  type CollectionId,
  type EventId,
  type PrimaryKey,
  eventIdFromHash,
  primaryKeyBytes,
  primaryKeyFromBytes,
} from './ids.js';
import type { Authorization, KeyId, Metadata, ParentRef, ReadOption, SignatureItem, WriteOption } from './metadata.js';

export const EVENT_FORMAT_VERSION = 1;
const FLAG_HAS_DATA = 1;
const HEAD = 6;

/** One fixed configuration: plain arrays, no record extensions, so the bytes are deterministic. */
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

const enum Tag {
  Data = 1,
  Tombstone = 2,
  Auth = 3,
  Parent = 4,
  PublicKey = 5,
  Signature = 6,
  SignWith = 7,
  Confidentiality = 8,
  Timestamp = 9,
  Type = 10,
  Reply = 11,
  Author = 12,
}

const ALG_TAGS: Record<SignAlgorithm, number> = { 'ml-dsa-65': 1, 'falcon-512': 2 };
const ALG_BY_TAG = new Map<number, SignAlgorithm>([
  [1, 'ml-dsa-65'],
  [2, 'falcon-512'],
]);

const keyIdBytes = (id: KeyId): Buffer => Buffer.from(id, 'hex');
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function encodeRead(r: ReadOption): unknown {
  switch (r.kind) {
    case 'inherit':
      return 0;
    case 'everyone':
      return 1;
    case 'specific':
      return r.readers.map((w) => [keyIdBytes(w.keyId), w.wrapped]);
  }
}

function encodeWrite(w: WriteOption): unknown {
  switch (w.kind) {
    case 'inherit':
      return 0;
    case 'everyone':
      return 1;
    case 'nobody':
      return 2;
    case 'specific':
      return w.keys.map(keyIdBytes);
  }
}

function encodeItems(meta: Metadata): unknown[] {
  const items: unknown[] = [];
  if (meta.key !== undefined) items.push([Tag.Data, primaryKeyBytes(meta.key)]);
  if (meta.tombstone !== undefined) items.push([Tag.Tombstone, primaryKeyBytes(meta.tombstone)]);
  if (meta.auth !== undefined) items.push([Tag.Auth, [encodeRead(meta.auth.read), encodeWrite(meta.auth.write)]]);
  if (meta.parent !== undefined) items.push([Tag.Parent, [primaryKeyBytes(meta.parent.key), meta.parent.collection]]);
  for (const pk of meta.publicKeys ?? []) items.push([Tag.PublicKey, [ALG_TAGS[pk.alg], pk.bytes]]);
  for (const s of meta.signatures ?? []) {
    items.push([Tag.Signature, [keyIdBytes(s.signer), Buffer.concat(s.events.map((e) => Buffer.from(e, 'hex'))), s.signature]]);
  }
  if (meta.signWith !== undefined) items.push([Tag.SignWith, meta.signWith.map(keyIdBytes)]);
  if (meta.confidentiality !== undefined) items.push([Tag.Confidentiality, meta.confidentiality]);
  if (meta.timestamp !== undefined) items.push([Tag.Timestamp, meta.timestamp]);
  if (meta.type !== undefined) items.push([Tag.Type, meta.type]);
  if (meta.reply !== undefined) items.push([Tag.Reply, primaryKeyBytes(meta.reply)]);
  if (meta.author !== undefined) items.push([Tag.Author, meta.author]);
  for (const e of meta.extra ?? []) items.push([e[0], e[1]]);
  return items;
}

/** Encodes an event: [version u8][flags u8][meta length u32 BE][meta msgpack][data]. */
export function encodeEvent(meta: Metadata, data?: Uint8Array): Buffer {
  const metaBytes = packr.pack(encodeItems(meta));
  const out = Buffer.allocUnsafe(HEAD + metaBytes.length + (data?.length ?? 0));
  out[0] = EVENT_FORMAT_VERSION;
  out[1] = data !== undefined ? FLAG_HAS_DATA : 0;
  out.writeUInt32BE(metaBytes.length, 2);
  metaBytes.copy(out, HEAD);
  if (data !== undefined) out.set(data, HEAD + metaBytes.length);
  return out;
}

/** The event id: SHA-256 of the stored bytes. */
export function eventIdOf(bytes: Uint8Array): EventId {
  return eventIdFromHash(hash('sha256', bytes, 'buffer'));
}

export interface DecodedEvent {
  readonly meta: Metadata;
  /** A view into the event bytes; undefined when the event carries no data. */
  readonly data: Uint8Array | undefined;
}

function fail(reason: string): never {
  throw new DecodeError(`malformed event: ${reason}`);
}

function asBytes(v: unknown, what: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${what} is not bytes`);
  if (length !== undefined && v.length !== length) fail(`${what} has ${v.length} bytes, expected ${length}`);
  return v;
}

function asKey(v: unknown, what: string): PrimaryKey {
  return primaryKeyFromBytes(asBytes(v, what, 8));
}

function asKeyId(v: unknown, what: string): KeyId {
  return hex(asBytes(v, what, 32)) as KeyId;
}

function asArray(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(`${what} is not a list`);
  return v;
}

function asUint(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(`${what} is not an unsigned integer`);
  return v;
}

function asString(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`${what} is not a string`);
  return v;
}

function decodeRead(v: unknown): ReadOption {
  if (v === 0) return { kind: 'inherit' };
  if (v === 1) return { kind: 'everyone' };
  const readers = asArray(v, 'read option').map((r) => {
    const [id, wrapped] = asArray(r, 'reader');
    return { keyId: asKeyId(id, 'reader key id'), wrapped: asBytes(wrapped, 'wrapped key') };
  });
  return { kind: 'specific', readers };
}

function decodeWrite(v: unknown): WriteOption {
  if (v === 0) return { kind: 'inherit' };
  if (v === 1) return { kind: 'everyone' };
  if (v === 2) return { kind: 'nobody' };
  return { kind: 'specific', keys: asArray(v, 'write option').map((k) => asKeyId(k, 'write key id')) };
}

function decodeSignature(v: unknown): SignatureItem {
  const [signer, hashes, signature] = asArray(v, 'signature');
  const all = asBytes(hashes, 'signed hashes');
  if (all.length % 32 !== 0) fail('signed hashes are not a multiple of 32 bytes');
  const events: EventId[] = [];
  for (let i = 0; i < all.length; i += 32) events.push(hex(all.subarray(i, i + 32)) as EventId);
  return { signer: asKeyId(signer, 'signer'), events, signature: asBytes(signature, 'signature bytes') };
}

function decodeItems(items: unknown): Metadata {
  const m: {
    -readonly [K in keyof Metadata]: Metadata[K];
  } = {};
  for (const item of asArray(items, 'metadata')) {
    const [tag, value] = asArray(item, 'metadata item');
    switch (tag) {
      case Tag.Data:
        m.key = asKey(value, 'data key');
        break;
      case Tag.Tombstone:
        m.tombstone = asKey(value, 'tombstone key');
        break;
      case Tag.Auth: {
        const [read, write] = asArray(value, 'authorization');
        m.auth = { read: decodeRead(read), write: decodeWrite(write) } satisfies Authorization;
        break;
      }
      case Tag.Parent: {
        const [key, collection] = asArray(value, 'parent');
        m.parent = { key: asKey(key, 'parent key'), collection: asUint(collection, 'collection', 0xffffffff) as CollectionId } satisfies ParentRef;
        break;
      }
      case Tag.PublicKey: {
        const [algTag, bytes] = asArray(value, 'public key');
        const alg = ALG_BY_TAG.get(asUint(algTag, 'algorithm'));
        if (alg === undefined) fail(`unknown signature algorithm ${String(algTag)}`);
        m.publicKeys = [...(m.publicKeys ?? []), { alg, bytes: asBytes(bytes, 'public key bytes') } satisfies PublicSignKey];
        break;
      }
      case Tag.Signature:
        m.signatures = [...(m.signatures ?? []), decodeSignature(value)];
        break;
      case Tag.SignWith:
        m.signWith = asArray(value, 'sign-with').map((k) => asKeyId(k, 'sign-with key id'));
        break;
      case Tag.Confidentiality:
        m.confidentiality = asBytes(value, 'confidentiality');
        break;
      case Tag.Timestamp:
        m.timestamp = asUint(value, 'timestamp');
        break;
      case Tag.Type:
        m.type = asString(value, 'type');
        break;
      case Tag.Reply:
        m.reply = asKey(value, 'reply key');
        break;
      case Tag.Author:
        m.author = asString(value, 'author');
        break;
      default:
        m.extra = [...(m.extra ?? []), [asUint(tag, 'metadata tag'), value] as const];
    }
  }
  return m;
}

/** Splits stored bytes into metadata and a view of the data, validating the framing. */
export function decodeEvent(bytes: Uint8Array): DecodedEvent {
  if (bytes.length < HEAD) fail(`${bytes.length} bytes is shorter than the event head`);
  if (bytes[0] !== EVENT_FORMAT_VERSION) fail(`unknown event format version ${bytes[0]}`);
  const flags = bytes[1]!;
  if ((flags & ~FLAG_HAS_DATA) !== 0) fail(`unknown flags ${flags}`);
  const metaLength = ((bytes[2]! << 24) >>> 0) + (bytes[3]! << 16) + (bytes[4]! << 8) + bytes[5]!;
  if (HEAD + metaLength > bytes.length) fail('metadata length runs past the end');
  const hasData = (flags & FLAG_HAS_DATA) !== 0;
  if (!hasData && HEAD + metaLength !== bytes.length) fail('trailing bytes after metadata');
  let items: unknown;
  try {
    items = packr.unpack(bytes.subarray(HEAD, HEAD + metaLength));
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    fail('metadata is not valid msgpack');
  }
  return { meta: decodeItems(items), data: hasData ? bytes.subarray(HEAD + metaLength) : undefined };
}
