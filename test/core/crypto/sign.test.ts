import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyFormatError } from '../../../src/core/errors.js';
import { hash, toHex } from '../../../src/core/crypto/hash.js';
import {
  type PublicSignKey,
  type SignAlgorithm,
  generateSignKey,
  publicSignKey,
  sign,
  signAlgorithmFromTag,
  signAlgorithmTag,
  signKeyHash,
  signKeyLengths,
  verify,
} from '../../../src/core/crypto/sign.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);

// Regression vectors: keys derived from a seed (and from passwords through it) must never change.
const PINNED: Record<SignAlgorithm, { publicKeyHash: string; keyId: string }> = {
  'ml-dsa-65': {
    publicKeyHash: 'd666806e11cee19a7c989f7445f90dd419cf4d2d51db8c0fdb4c0f0a542238c9',
    keyId: '61864b6d4719f0b2249ed6b890a7ec512173f89b6ba631b982d909322afe165b',
  },
  'falcon-512': {
    publicKeyHash: '49565c4a2821936481ce3d035dca70fce5d6b622198ff2e115e1aabbf93bb062',
    keyId: '5689cb5aa996de3357332fe3029462dcf477f23a66b0fac2c6ce468684969222',
  },
};

for (const alg of ['ml-dsa-65', 'falcon-512'] as const) {
  describe(`sign ${alg}`, () => {
    const key = generateSignKey(alg, SEED);
    const pub = publicSignKey(key);
    const msg = utf8('commit 42');
    const sig = sign(key, msg);

    it('keygen from a seed is deterministic and pinned', () => {
      const again = generateSignKey(alg, SEED);
      assert.deepEqual(again, key);
      assert.equal(toHex(hash(key.publicKey)), PINNED[alg].publicKeyHash);
      assert.equal(toHex(signKeyHash(pub)), PINNED[alg].keyId);
      const len = signKeyLengths(alg);
      assert.equal(key.publicKey.length, len.publicKey);
      assert.equal(key.secretKey.length, len.secretKey);
      assert.equal(key.alg, alg);
    });

    it('verifies its own signature', () => {
      assert.equal(verify(pub, msg, sig), true);
    });

    it('refuses a wrong message, a wrong key and a flipped signature bit', () => {
      assert.equal(verify(pub, utf8('commit 43'), sig), false);
      const flipped = new Uint8Array(sig);
      flipped[sig.length >> 1]! ^= 1;
      assert.equal(verify(pub, msg, flipped), false);
      const other = publicSignKey(generateSignKey(alg, new Uint8Array(32).fill(9)));
      assert.equal(verify(other, msg, sig), false);
    });

    it('returns false, never throws, on garbage', () => {
      const garbage: unknown[] = [new Uint8Array(0), new Uint8Array(sig.length), new Uint8Array(5), new Uint8Array(sig.length + 1), 'sig', null, undefined];
      for (const g of garbage) assert.equal(verify(pub, msg, g as Uint8Array), false);
      assert.equal(verify({ alg, bytes: new Uint8Array(3) }, msg, sig), false);
      assert.equal(verify({ alg: 'rsa' as SignAlgorithm, bytes: pub.bytes }, msg, sig), false);
      assert.equal(verify(null as unknown as PublicSignKey, msg, sig), false);
      assert.equal(verify(pub, null as unknown as Uint8Array, sig), false);
    });
  });
}

describe('sign keys', () => {
  it('random keys differ; a seed must be 32 bytes', () => {
    assert.notDeepEqual(generateSignKey().publicKey, generateSignKey().publicKey);
    assert.equal(generateSignKey().alg, 'ml-dsa-65');
    for (const n of [0, 31, 33, 48]) assert.throws(() => generateSignKey('ml-dsa-65', new Uint8Array(n)), KeyFormatError);
    assert.throws(() => generateSignKey('rsa' as SignAlgorithm), KeyFormatError);
  });

  it('a signature of one algorithm does not verify as the other', () => {
    const m = generateSignKey('ml-dsa-65', SEED);
    const f = generateSignKey('falcon-512', SEED);
    const msg = utf8('x');
    assert.equal(verify({ alg: 'falcon-512', bytes: f.publicKey }, msg, sign(m, msg)), false);
    assert.equal(verify({ alg: 'ml-dsa-65', bytes: m.publicKey }, msg, sign(f, msg)), false);
  });

  it('public key and key id are cached per key object', () => {
    const k = generateSignKey();
    assert.equal(publicSignKey(k), publicSignKey(k));
    assert.equal(signKeyHash(publicSignKey(k)), signKeyHash(publicSignKey(k)));
    // An equal key object gives an equal id.
    assert.deepEqual(signKeyHash({ alg: k.alg, bytes: new Uint8Array(k.publicKey) }), signKeyHash(publicSignKey(k)));
  });

  it('algorithm tags round trip; unknown tags are KeyFormatError', () => {
    for (const alg of ['ml-dsa-65', 'falcon-512'] as const) assert.equal(signAlgorithmFromTag(signAlgorithmTag(alg)), alg);
    for (const t of [0, 3, '1', null]) assert.throws(() => signAlgorithmFromTag(t), KeyFormatError);
  });
});
