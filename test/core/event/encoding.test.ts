import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../../src/core/errors.js';
import {
  type CollectionId,
  type EventId,
  type KeyId,
  type Metadata,
  type PrimaryKey,
  chainKey,
  decodeEvent,
  encodeEvent,
  eventIdOf,
  primaryKey,
  primaryKeyFromName,
  randomPrimaryKey,
} from '../../../src/core/event/index.js';

const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const key = hex(8).map((h) => h as PrimaryKey);
const keyId = hex(32).map((h) => h as KeyId);
const bytes = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));

const metadata: fc.Arbitrary<Metadata> = fc.record(
  {
    key,
    tombstone: key,
    auth: fc.record({
      read: fc.oneof(
        fc.constant({ kind: 'inherit' as const }),
        fc.constant({ kind: 'everyone' as const }),
        fc.array(fc.record({ keyId, wrapped: bytes }), { maxLength: 3 }).map((readers) => ({ kind: 'specific' as const, readers })),
        fc
          .tuple(
            fc.array(fc.record({ keyId, wrapped: bytes }), { minLength: 1, maxLength: 3 }),
            fc.array(fc.record({ hint: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)), sealed: bytes }), { minLength: 1, maxLength: 3 }),
          )
          .map(([readers, previous]) => ({ kind: 'specific' as const, readers, previous })),
      ),
      write: fc.oneof(
        fc.constant({ kind: 'inherit' as const }),
        fc.constant({ kind: 'everyone' as const }),
        fc.constant({ kind: 'nobody' as const }),
        fc.array(keyId, { maxLength: 3 }).map((keys) => ({ kind: 'specific' as const, keys })),
      ),
    }),
    parent: fc.record({ key, collection: fc.nat({ max: 0xffffffff }).map((n) => n as CollectionId) }),
    publicKeys: fc.array(fc.record({ alg: fc.constantFrom('ml-dsa-65' as const, 'falcon-512' as const), bytes }), { minLength: 1, maxLength: 2 }),
    signatures: fc.array(fc.record({ signer: keyId, events: fc.array(hex(32).map((h) => h as EventId), { maxLength: 4 }), signature: bytes }), {
      minLength: 1,
      maxLength: 2,
    }),
    signWith: fc.array(keyId, { maxLength: 2 }),
    confidentiality: bytes,
    timestamp: fc.nat(),
    type: fc.string(),
    reply: key,
    author: fc.string(),
  },
  { requiredKeys: [] },
);

test('metadata and data survive an encode/decode round trip', () => {
  fc.assert(
    fc.property(metadata, fc.option(bytes, { nil: undefined }), (meta, data) => {
      const decoded = decodeEvent(encodeEvent(meta, data));
      assert.deepEqual(normalize(decoded.meta), normalize(meta));
      assert.deepEqual(decoded.data === undefined ? undefined : Buffer.from(decoded.data), data);
    }),
    { numRuns: 500 },
  );
});

test('encoding is deterministic, so an id names exactly one byte string', () => {
  fc.assert(
    fc.property(metadata, bytes, (meta, data) => {
      assert.equal(eventIdOf(encodeEvent(meta, data)), eventIdOf(encodeEvent(meta, data)));
    }),
    { numRuns: 200 },
  );
});

test('random bytes either decode or fail with DecodeError, never anything else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => {
      try {
        decodeEvent(raw);
      } catch (err) {
        assert.ok(err instanceof DecodeError, `unexpected ${String(err)}`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('mutated events either decode or fail with DecodeError', () => {
  fc.assert(
    fc.property(metadata, fc.nat(), fc.integer({ min: 1, max: 255 }), (meta, at, flip) => {
      const encoded = encodeEvent(meta, Buffer.from('payload'));
      encoded[at % encoded.length]! ^= flip;
      try {
        decodeEvent(encoded);
      } catch (err) {
        assert.ok(err instanceof DecodeError, `unexpected ${String(err)}`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('primary keys and chain keys validate their text', () => {
  assert.match(randomPrimaryKey(), /^[0-9a-f]{16}$/);
  assert.equal(primaryKeyFromName('x'), primaryKeyFromName('x'));
  assert.notEqual(primaryKeyFromName('x'), primaryKeyFromName('y'));
  assert.throws(() => primaryKey('XYZ'), DecodeError);
  assert.equal(chainKey('universe'), '/universe');
  assert.equal(chainKey('/a/b@c.d/e'), '/a/b@c.d/e');
  for (const bad of ['', '/', '/a/../b', '/~root', 'a//b', '/a/b c', '/a\u0000']) assert.throws(() => chainKey(bad), /not a valid chain name/);
});

/** Buffers decode as Buffer subarrays; compare contents. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    // eventBytes is the decoder's byte form of `events`, which is compared instead.
    return Object.fromEntries(Object.entries(v).filter(([k, x]) => x !== undefined && k !== 'eventBytes').map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

test('metadata bytes are plain msgpack that msgpackr reads as [tag, value] items', async () => {
  const { unpack } = await import('msgpackr');
  fc.assert(
    fc.property(metadata, (meta) => {
      const bytes = encodeEvent(meta);
      const items = unpack(bytes.subarray(6)) as [number, unknown][];
      assert.ok(Array.isArray(items));
      const tags = items.map(([tag]) => tag);
      assert.deepEqual(tags, [...tags].sort((a, b) => a - b), 'items are written in tag order');
      if (meta.key !== undefined) assert.equal(Buffer.from(items.find(([t]) => t === 1)![1] as Uint8Array).toString('hex'), meta.key);
      if (meta.timestamp !== undefined) assert.equal(items.find(([t]) => t === 9)![1], meta.timestamp);
    }),
    { numRuns: 300 },
  );
});

test('items with unknown tags survive decoding and re-encoding', () => {
  const meta: Metadata = { timestamp: 5, extra: [[77, { nested: [1, 'two'] }]] };
  const decoded = decodeEvent(encodeEvent(meta));
  assert.deepEqual(decoded.meta.extra, [[77, { nested: [1, 'two'] }]]);
  assert.deepEqual(encodeEvent(decoded.meta), encodeEvent(meta));
});
