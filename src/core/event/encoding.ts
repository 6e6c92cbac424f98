// Byte encoding of events (docs/FORMAT.md "Events"). The stored bytes are what is hashed,
// signed and sent; they are never re-encoded to verify.
import { hash } from 'node:crypto';
import type { PublicSignKey, SignAlgorithm } from '../crypto/index.js';
import { DecodeError } from '../errors.js';
import { type CollectionId, type EventId, type PrimaryKey, eventIdFromHash } from './ids.js';
import { MsgReader, MsgWriter } from './msgpack.js';
import { signatureItem } from './signature-item.js';
import { cut } from './slab.js';
import type { Authorization, KeyId, Metadata, ParentRef, PreviousKey, ReadOption, SignatureItem, WriteOption } from './metadata.js';

export const EVENT_FORMAT_VERSION = 1;
const FLAG_HAS_DATA = 1;
const HEAD = 6;

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

function itemCount(meta: Metadata): number {
  let n = (meta.publicKeys?.length ?? 0) + (meta.signatures?.length ?? 0) + (meta.extra?.length ?? 0);
  if (meta.key !== undefined) n++;
  if (meta.tombstone !== undefined) n++;
  if (meta.auth !== undefined) n++;
  if (meta.parent !== undefined) n++;
  if (meta.signWith !== undefined) n++;
  if (meta.confidentiality !== undefined) n++;
  if (meta.timestamp !== undefined) n++;
  if (meta.type !== undefined) n++;
  if (meta.reply !== undefined) n++;
  if (meta.author !== undefined) n++;
  return n;
}

function writeRead(w: MsgWriter, r: ReadOption): void {
  if (r.kind === 'inherit') return w.uint(0);
  if (r.kind === 'everyone') return w.uint(1);
  w.arrayHeader(r.readers.length);
  for (const reader of r.readers) {
    w.arrayHeader(2);
    w.binHex(reader.keyId);
    w.bin(reader.wrapped);
  }
}

function writeWrite(w: MsgWriter, o: WriteOption): void {
  if (o.kind === 'inherit') return w.uint(0);
  if (o.kind === 'everyone') return w.uint(1);
  if (o.kind === 'nobody') return w.uint(2);
  w.arrayHeader(o.keys.length);
  for (const k of o.keys) w.binHex(k);
}

function item(w: MsgWriter, tag: Tag | number): void {
  w.arrayHeader(2);
  w.uint(tag);
}

const scratch = new MsgWriter(1024);

function writeItems(w: MsgWriter, meta: Metadata): void {
  w.arrayHeader(itemCount(meta));
  if (meta.key !== undefined) (item(w, Tag.Data), w.binHex(meta.key));
  if (meta.tombstone !== undefined) (item(w, Tag.Tombstone), w.binHex(meta.tombstone));
  if (meta.auth !== undefined) {
    const read = meta.auth.read;
    const previous = read.kind === 'specific' && read.previous !== undefined && read.previous.length > 0 ? read.previous : undefined;
    item(w, Tag.Auth);
    w.arrayHeader(previous ? 3 : 2);
    writeRead(w, read);
    writeWrite(w, meta.auth.write);
    if (previous) {
      w.arrayHeader(previous.length);
      for (const p of previous) {
        w.arrayHeader(2);
        w.bin(p.hint);
        w.bin(p.sealed);
      }
    }
  }
  if (meta.parent !== undefined) {
    item(w, Tag.Parent);
    w.arrayHeader(2);
    w.binHex(meta.parent.key, true);
    w.uint(meta.parent.collection);
  }
  for (const pk of meta.publicKeys ?? []) {
    item(w, Tag.PublicKey);
    w.arrayHeader(2);
    w.uint(ALG_TAGS[pk.alg]);
    w.bin(pk.bytes);
  }
  for (const s of meta.signatures ?? []) {
    item(w, Tag.Signature);
    w.arrayHeader(3);
    w.binHex(s.signer);
    if (s.eventBytes) w.bin(s.eventBytes);
    else w.binHex(s.events.join(''));
    w.bin(s.signature);
  }
  if (meta.signWith !== undefined) {
    item(w, Tag.SignWith);
    w.arrayHeader(meta.signWith.length);
    for (const k of meta.signWith) w.binHex(k, true);
  }
  if (meta.confidentiality !== undefined) (item(w, Tag.Confidentiality), w.bin(meta.confidentiality));
  if (meta.timestamp !== undefined) (item(w, Tag.Timestamp), w.time(meta.timestamp));
  if (meta.type !== undefined) (item(w, Tag.Type), w.str(meta.type));
  if (meta.reply !== undefined) (item(w, Tag.Reply), w.binHex(meta.reply));
  if (meta.author !== undefined) (item(w, Tag.Author), w.str(meta.author));
  for (const [tag, value] of meta.extra ?? []) (item(w, tag), w.any(value));
}

/**
 * Encodes an event: [version u8][flags u8][meta length u32 BE][meta msgpack][data].
 * `headroom` bytes are left free before the event (the chain puts the event id there).
 */
export function encodeEvent(meta: Metadata, data?: Uint8Array, headroom = 0): Buffer {
  scratch.reset();
  writeItems(scratch, meta);
  const metaBytes = scratch.bytes();
  const out = cut(headroom + HEAD + metaBytes.length + (data?.length ?? 0));
  out[headroom] = EVENT_FORMAT_VERSION;
  out[headroom + 1] = data !== undefined ? FLAG_HAS_DATA : 0;
  out.writeUInt32BE(metaBytes.length, headroom + 2);
  metaBytes.copy(out, headroom + HEAD);
  if (data !== undefined) out.set(data, headroom + HEAD + metaBytes.length);
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

function readRead(r: MsgReader): ReadOption {
  if (r.peek() < 0x80) {
    const v = r.uint('read option');
    if (v === 0) return { kind: 'inherit' };
    if (v === 1) return { kind: 'everyone' };
    fail(`unknown read option ${v}`);
  }
  const readers = [];
  for (let i = r.arrayHeader('read option'); i > 0; i--) {
    if (r.arrayHeader('reader') !== 2) fail('a reader is not [key id, wrapped key]');
    readers.push({ keyId: r.binHex('reader key id', 32) as KeyId, wrapped: r.bin('wrapped key') });
  }
  return { kind: 'specific', readers };
}

function readPrevious(r: MsgReader): PreviousKey[] {
  const previous = [];
  for (let i = r.arrayHeader('previous data keys'); i > 0; i--) {
    if (r.arrayHeader('previous data key') !== 2) fail('a previous data key is not [hint, sealed key]');
    previous.push({ hint: r.bin('previous key hint'), sealed: r.bin('sealed previous key') });
  }
  return previous;
}

function readWrite(r: MsgReader): WriteOption {
  if (r.peek() < 0x80) {
    const v = r.uint('write option');
    if (v === 0) return { kind: 'inherit' };
    if (v === 1) return { kind: 'everyone' };
    if (v === 2) return { kind: 'nobody' };
    fail(`unknown write option ${v}`);
  }
  const keys: KeyId[] = [];
  for (let i = r.arrayHeader('write option'); i > 0; i--) keys.push(r.binHex('write key id', 32) as KeyId);
  return { kind: 'specific', keys };
}

function readSignature(r: MsgReader): SignatureItem {
  if (r.arrayHeader('signature') !== 3) fail('a signature is not [signer, events, signature]');
  const signer = r.binHex('signer', 32) as KeyId;
  // Copied: the source may be a log read buffer that is reused.
  const eventBytes = Buffer.from(r.bin('signed hashes'));
  if (eventBytes.length % 32 !== 0) fail('signed hashes are not a multiple of 32 bytes');
  return signatureItem(signer, eventBytes, r.bin('signature bytes'));
}

function readItems(r: MsgReader): Metadata {
  const m: { -readonly [K in keyof Metadata]: Metadata[K] } = {};
  for (let n = r.arrayHeader('metadata'); n > 0; n--) {
    if (r.arrayHeader('metadata item') !== 2) fail('a metadata item is not [tag, value]');
    const tag = r.uint('metadata tag');
    switch (tag) {
      case Tag.Data:
        m.key = r.binHex('data key', 8) as PrimaryKey;
        break;
      case Tag.Tombstone:
        m.tombstone = r.binHex('tombstone key', 8) as PrimaryKey;
        break;
      case Tag.Auth: {
        const items = r.arrayHeader('authorization');
        if (items !== 2 && items !== 3) fail('authorization is not [read, write] or [read, write, previous]');
        const read = readRead(r);
        const write = readWrite(r);
        if (items === 2) m.auth = { read, write } satisfies Authorization;
        else if (read.kind !== 'specific') fail('previous data keys come only with readers');
        else m.auth = { read: { ...read, previous: readPrevious(r) }, write } satisfies Authorization;
        break;
      }
      case Tag.Parent: {
        if (r.arrayHeader('parent') !== 2) fail('parent is not [key, collection]');
        const key = r.binHex('parent key', 8) as PrimaryKey;
        const collection = r.uint('collection');
        if (collection > 0xffffffff) fail('collection is not a 32-bit number');
        m.parent = { key, collection: collection as CollectionId } satisfies ParentRef;
        break;
      }
      case Tag.PublicKey: {
        if (r.arrayHeader('public key') !== 2) fail('public key is not [algorithm, bytes]');
        const algTag = r.uint('algorithm');
        const alg = ALG_BY_TAG.get(algTag);
        if (alg === undefined) fail(`unknown signature algorithm ${algTag}`);
        m.publicKeys = [...(m.publicKeys ?? []), { alg, bytes: r.bin('public key bytes') } satisfies PublicSignKey];
        break;
      }
      case Tag.Signature:
        m.signatures = [...(m.signatures ?? []), readSignature(r)];
        break;
      case Tag.SignWith: {
        const keys: KeyId[] = [];
        for (let i = r.arrayHeader('sign-with'); i > 0; i--) keys.push(r.binHex('sign-with key id', 32) as KeyId);
        m.signWith = keys;
        break;
      }
      case Tag.Confidentiality:
        m.confidentiality = r.bin('confidentiality');
        break;
      case Tag.Timestamp:
        m.timestamp = r.time('timestamp');
        break;
      case Tag.Type:
        m.type = r.str('type');
        break;
      case Tag.Reply:
        m.reply = r.binHex('reply key', 8) as PrimaryKey;
        break;
      case Tag.Author:
        m.author = r.str('author');
        break;
      default:
        m.extra = [...(m.extra ?? []), [tag, r.any()] as const];
    }
  }
  return m;
}

/** Checks the framing of the event in `buf[start, end)`; returns where its metadata ends. */
function metaEndOf(buf: Buffer, start: number, end: number): number {
  if (end - start < HEAD) fail(`${end - start} bytes is shorter than the event head`);
  if (buf[start] !== EVENT_FORMAT_VERSION) fail(`unknown event format version ${buf[start]}`);
  const flags = buf[start + 1]!;
  if ((flags & ~FLAG_HAS_DATA) !== 0) fail(`unknown flags ${flags}`);
  const metaEnd = start + HEAD + buf.readUInt32BE(start + 2);
  if (metaEnd > end) fail('metadata length runs past the end');
  if ((flags & FLAG_HAS_DATA) === 0 && metaEnd !== end) fail('trailing bytes after metadata');
  return metaEnd;
}

/** Splits stored bytes into metadata and a view of the data, validating the framing. */
export function decodeEvent(bytes: Uint8Array): DecodedEvent {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const metaEnd = metaEndOf(buf, 0, buf.length);
  const reader = new MsgReader(buf, HEAD, metaEnd);
  const meta = readItems(reader);
  if (!reader.done) fail('trailing bytes inside the metadata');
  return { meta, data: (buf[1]! & FLAG_HAS_DATA) !== 0 ? buf.subarray(metaEnd) : undefined };
}

/** What the materialized view takes from an event (see ChainView.add). */
export interface ViewFields {
  readonly key?: PrimaryKey;
  readonly tombstone?: PrimaryKey;
  readonly auth?: Authorization;
  readonly parent?: ParentRef;
  readonly timestamp?: number;
  readonly type?: string;
}

/**
 * Decodes only what the view needs, for replaying a log this node sealed (its events were
 * validated when they were written): no Metadata object, no hex strings for key ids, and one
 * ParentRef shared by consecutive events with the same parent (less to build and to keep).
 * Events with items the chain must act on beyond the view (authorization, public keys,
 * signatures, unknown tags) are for decodeEvent: decode() returns false for them.
 */
export class ViewDecoder implements ViewFields {
  key: PrimaryKey | undefined;
  tombstone: PrimaryKey | undefined;
  readonly auth: undefined;
  parent: ParentRef | undefined;
  timestamp: number | undefined;
  type: string | undefined;
  /** The event names the write keys that must sign it, and needs a signature (needsSignature). */
  signs = false;
  private readonly reader = new MsgReader(Buffer.alloc(0), 0, 0);
  /** The last parent read, with its encoded key (bin header and 8 bytes). */
  private lastParent: ParentRef | undefined;
  private readonly lastParentBytes = Buffer.alloc(10);

  /** Reads the event in `buf[start, end)`; false when it needs decodeEvent. */
  decode(buf: Buffer, start: number, end: number): boolean {
    const r = this.reader;
    r.reset(buf, start + HEAD, metaEndOf(buf, start, end));
    this.key = this.tombstone = this.parent = this.timestamp = this.type = undefined;
    let signWith = false;
    let other = false;
    for (let n = r.arrayHeader('metadata'); n > 0; n--) {
      if (r.arrayHeader('metadata item') !== 2) fail('a metadata item is not [tag, value]');
      switch (r.uint('metadata tag')) {
        case Tag.Data:
          this.key = r.binHex('data key', 8) as PrimaryKey;
          break;
        case Tag.Tombstone:
          this.tombstone = r.binHex('tombstone key', 8) as PrimaryKey;
          break;
        case Tag.Parent:
          this.parent = this.readParent(r, buf);
          break;
        case Tag.SignWith:
          signWith = true;
          r.skipValue();
          break;
        case Tag.Confidentiality:
          r.skipValue();
          break;
        case Tag.Timestamp:
          this.timestamp = r.time('timestamp');
          break;
        case Tag.Type:
          this.type = r.str('type');
          break;
        case Tag.Reply:
        case Tag.Author:
          other = true;
          r.skipValue();
          break;
        default:
          return false;
      }
    }
    if (!r.done) fail('trailing bytes inside the metadata');
    this.signs = signWith && (other || this.key !== undefined || this.tombstone !== undefined || this.parent !== undefined || this.type !== undefined);
    return true;
  }

  private readParent(r: MsgReader, buf: Buffer): ParentRef {
    if (r.arrayHeader('parent') !== 2) fail('parent is not [key, collection]');
    const last = this.lastParent;
    let key: PrimaryKey;
    if (last !== undefined && r.matches(this.lastParentBytes, 0, 10)) {
      r.at += 10;
      key = last.key;
    } else {
      const at = r.at;
      key = r.binHex('parent key', 8) as PrimaryKey;
      buf.copy(this.lastParentBytes, 0, at, at + 10);
    }
    const collection = r.uint('collection');
    if (collection > 0xffffffff) fail('collection is not a 32-bit number');
    if (last !== undefined && last.key === key && last.collection === collection) return last;
    return (this.lastParent = { key, collection: collection as CollectionId });
  }
}
