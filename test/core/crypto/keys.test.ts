import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { KeyFormatError } from '../../../src/core/errors.js';
import { generateSymmetricKey, symmetricKeyHash } from '../../../src/core/crypto/aead.js';
import { generateReadKeyPair, publicReadKey, readKeyHash } from '../../../src/core/crypto/kem.js';
import { type AnyKey, decodeKey, decodeKeyText, encodeKey, encodeKeyText, fingerprint, keyId } from '../../../src/core/crypto/keys.js';
import { generateSignKey, publicSignKey, signKeyHash } from '../../../src/core/crypto/sign.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const seed = new Uint8Array(32).fill(3);
const mldsa = generateSignKey('ml-dsa-65', seed);
const falcon = generateSignKey('falcon-512', seed);
const read = generateReadKeyPair(seed);

const SAMPLES: AnyKey[] = [
  { kind: 'symmetric', key: generateSymmetricKey() },
  { kind: 'sign-private', key: mldsa },
  { kind: 'sign-private', key: falcon },
  { kind: 'sign-public', key: publicSignKey(mldsa) },
  { kind: 'sign-public', key: publicSignKey(falcon) },
  { kind: 'read-private', key: read },
  { kind: 'read-public', key: publicReadKey(read) },
];

/** What a valid decoded key satisfies: it re-encodes to bytes that decode to itself. */
function assertValid(k: AnyKey): void {
  assert.deepEqual(decodeKey(encodeKey(k)), k);
}

describe('key encoding', () => {
  it('round trips every kind, binary and text', () => {
    for (const k of SAMPLES) {
      const decoded = decodeKey(encodeKey(k));
      assert.deepEqual(decoded, k, k.kind);
      assert.deepEqual(decodeKeyText(encodeKeyText(k)), k, k.kind);
      assert.match(encodeKeyText(k), new RegExp(`^ate-key:${k.kind}:[A-Za-z0-9_-]+$`));
    }
  });

  it('decoded keys own their bytes', () => {
    const bytes = encodeKey(SAMPLES[0]!);
    const k = decodeKey(bytes);
    assert.equal(k.kind, 'symmetric');
    bytes.fill(0);
    assert.deepEqual(k, SAMPLES[0]);
    assert.equal(Object.getPrototypeOf(k.key), Uint8Array.prototype);
  });

  it('text form tolerates surrounding whitespace and refuses a mislabelled kind', () => {
    const text = encodeKeyText(SAMPLES[0]!);
    assert.deepEqual(decodeKeyText(`  ${text}\n`), SAMPLES[0]);
    assert.throws(() => decodeKeyText(text.replace('symmetric', 'read-public')), KeyFormatError);
    for (const bad of ['', 'ate-key', 'ate-key:symmetric:', 'ate-key:symmetric:a+b', 'key:symmetric:AAAA', `${text}:x`, 'ate-key:symmetric:AAAA']) {
      assert.throws(() => decodeKeyText(bad), KeyFormatError, bad);
    }
  });

  it('refuses wrong versions, kinds, algorithms, lengths and arity with KeyFormatError', () => {
    const k32 = new Uint8Array(32);
    const bad: unknown[] = [
      null,
      5,
      'key',
      [],
      [1],
      [2, 1, k32],
      [1, 9, k32],
      [1, 1],
      [1, 1, k32, k32],
      [1, 1, new Uint8Array(31)],
      [1, 1, 'x'.repeat(32)],
      [1, 1, Array.from(k32)],
      [1, 3, 7, mldsa.publicKey],
      [1, 3, 2, mldsa.publicKey],
      [1, 2, 1, mldsa.publicKey, falcon.secretKey],
      [1, 4, read.publicKey, new Uint8Array(64)],
      [1, 5, read.secretKey],
      { 0: 1, 1: 1, 2: k32 },
    ];
    for (const v of bad) assert.throws(() => decodeKey(packr.pack(v)), KeyFormatError, JSON.stringify(v)?.slice(0, 60));
    assert.throws(() => decodeKey(new Uint8Array(0)), KeyFormatError);
    assert.throws(() => decodeKey(Uint8Array.of(...encodeKey(SAMPLES[0]!), 0)), KeyFormatError); // trailing byte
  });

  it('property: random bytes decode to a valid key or throw KeyFormatError, nothing else', () => {
    const check = (bytes: Uint8Array): void => {
      let k: AnyKey;
      try {
        k = decodeKey(bytes);
      } catch (e) {
        assert.ok(e instanceof KeyFormatError, `unexpected ${String(e)}`);
        return;
      }
      assertValid(k);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 2000 });
    // Near misses reach the deeper checks: msgpack arrays shaped like keys, and damaged encodings.
    const field = fc.oneof(fc.integer({ min: -1, max: 6 }), fc.uint8Array({ maxLength: 40 }), fc.constantFrom(mldsa.publicKey, read.publicKey, new Uint8Array(32)));
    const shaped = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 6 }), fc.array(field, { maxLength: 4 }));
    fc.assert(fc.property(shaped, ([v, t, rest]) => check(packr.pack([v, t, ...rest]))), { numRuns: 1000 });
    const sample = fc.constantFrom(...SAMPLES.map(encodeKey));
    fc.assert(
      fc.property(sample, fc.nat(), fc.integer({ min: 1, max: 255 }), (bytes, at, x) => {
        const damaged = new Uint8Array(bytes);
        damaged[at % damaged.length]! ^= x;
        check(damaged);
        check(bytes.subarray(0, at % bytes.length));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('key ids', () => {
  it('name keys by their public part', () => {
    const sym = SAMPLES[0]!;
    assert.ok(sym.kind === 'symmetric');
    assert.deepEqual(keyId(sym), symmetricKeyHash(sym.key));
    assert.deepEqual(keyId({ kind: 'sign-private', key: mldsa }), signKeyHash(publicSignKey(mldsa)));
    assert.deepEqual(keyId({ kind: 'sign-private', key: mldsa }), keyId({ kind: 'sign-public', key: publicSignKey(mldsa) }));
    assert.deepEqual(keyId({ kind: 'read-private', key: read }), readKeyHash(publicReadKey(read)));
    assert.deepEqual(keyId({ kind: 'read-private', key: read }), keyId({ kind: 'read-public', key: publicReadKey(read) }));
    const ids = new Set(SAMPLES.map((k) => fingerprint(keyId(k))));
    assert.equal(ids.size, 4); // private and public halves share an id
  });

  it('fingerprint is the first 8 bytes as four groups of hex', () => {
    assert.equal(fingerprint(Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0xff)), 'a1b2-c3d4-e5f6-0718');
    assert.match(fingerprint(keyId(SAMPLES[1]!)), /^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/);
    assert.throws(() => fingerprint(new Uint8Array(7)), KeyFormatError);
  });
});
