import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecryptError, KeyFormatError } from '../../../src/core/errors.js';
import {
  NONCE_BYTES,
  SEAL_OVERHEAD,
  TAG_BYTES,
  generateSymmetricKey,
  open,
  seal,
  symmetricKey,
  symmetricKeyHash,
} from '../../../src/core/crypto/aead.js';
import { hash, toHex } from '../../../src/core/crypto/hash.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const flip = (b: Uint8Array, i: number): Uint8Array => {
  const c = new Uint8Array(b);
  c[i]! ^= 1;
  return c;
};

describe('seal / open', () => {
  const key = generateSymmetricKey();

  it('round trips any size, with and without aad', () => {
    for (const n of [0, 1, 15, 16, 17, 1024, 100_000]) {
      const pt = Uint8Array.from({ length: n }, (_, i) => i * 7);
      const sealed = seal(key, pt);
      assert.equal(sealed.length, n + SEAL_OVERHEAD);
      assert.deepEqual(open(key, sealed), pt);
      assert.deepEqual(open(key, seal(key, pt, utf8('ctx')), utf8('ctx')), pt);
    }
  });

  it('returns plain Uint8Arrays', () => {
    const out = open(key, seal(key, utf8('x')));
    assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype);
  });

  it('uses a fresh nonce every time, across nonce batches', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(toHex(seal(key, new Uint8Array(0)).subarray(0, NONCE_BYTES)));
    assert.equal(seen.size, 1000);
  });

  it('detects any flipped bit in nonce, ciphertext or tag', () => {
    const aad = utf8('header');
    const sealed = seal(key, utf8('attack at dawn'), aad);
    for (const i of [0, NONCE_BYTES - 1, NONCE_BYTES, sealed.length - TAG_BYTES - 1, sealed.length - TAG_BYTES, sealed.length - 1]) {
      assert.throws(() => open(key, flip(sealed, i), aad), DecryptError, `byte ${i}`);
    }
  });

  it('detects a changed, missing or added aad', () => {
    const sealed = seal(key, utf8('x'), utf8('aad'));
    assert.throws(() => open(key, sealed, utf8('aaD')), DecryptError);
    assert.throws(() => open(key, sealed), DecryptError);
    assert.throws(() => open(key, seal(key, utf8('x')), utf8('aad')), DecryptError);
  });

  it('refuses a wrong key', () => {
    assert.throws(() => open(generateSymmetricKey(), seal(key, utf8('secret'))), DecryptError);
  });

  it('refuses truncated input, including anything shorter than nonce + tag', () => {
    const sealed = seal(key, utf8('secret'));
    for (let n = 0; n < sealed.length; n++) {
      assert.throws(() => open(key, sealed.subarray(0, n)), (e: unknown) => e instanceof DecryptError && /wrong key or tampered/.test(e.message));
    }
  });
});

describe('symmetric keys', () => {
  it('checks the length and copies the bytes', () => {
    const bytes = new Uint8Array(32).fill(1);
    const k = symmetricKey(bytes);
    bytes[0] = 9;
    assert.equal(k[0], 1);
    for (const n of [0, 16, 31, 33]) assert.throws(() => symmetricKey(new Uint8Array(n)), KeyFormatError);
    assert.equal(generateSymmetricKey().length, 32);
  });

  it('has a stable public id that is not the hash of the key alone', () => {
    const k = symmetricKey(Uint8Array.from({ length: 32 }, (_, i) => i));
    assert.equal(toHex(symmetricKeyHash(k)), '3171c11216f90def6566f84eb3424f42d63237971ac29ec82193e75a88b02243');
    assert.deepEqual(symmetricKeyHash(k), hash(utf8('ate/sym-key-id'), k));
    assert.notDeepEqual(symmetricKeyHash(k), hash(k));
  });
});
