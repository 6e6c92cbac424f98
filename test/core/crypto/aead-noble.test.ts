import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gcm } from '@noble/ciphers/aes.js';
import { DecryptError } from '../../../src/core/errors.js';
import { NONCE_BYTES, type SymmetricKey, generateSymmetricKey, open, seal, symmetricKey } from '../../../src/core/crypto/aead.js';
import { openNoble, sealNoble } from '../../../src/core/crypto/aead-noble.js';
import { fromHex } from '../../../src/core/crypto/hash.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// AES-256-GCM, 96-bit IV, with AAD: test case 16 of McGrew & Viega, "The Galois/Counter Mode of
// Operation (GCM)", the vectors NIST's GCM validation suite builds on.
const V = {
  key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
  iv: 'cafebabefacedbaddecaf888',
  aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
  pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
  ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
  tag: '76fc6ece0f4e1768cddf8853bb2d551b',
};

describe('AES-256-GCM test vector', () => {
  const key = symmetricKey(fromHex(V.key));
  const sealed = fromHex(V.iv + V.ct + V.tag);

  it('opens through node and through noble', () => {
    assert.deepEqual(open(key, sealed, fromHex(V.aad)), fromHex(V.pt));
    assert.deepEqual(openNoble(key, sealed, fromHex(V.aad)), fromHex(V.pt));
  });

  it('is what noble encrypts, and seal matches noble byte for byte under the same nonce', () => {
    assert.deepEqual(gcm(key, fromHex(V.iv), fromHex(V.aad)).encrypt(fromHex(V.pt)), fromHex(V.ct + V.tag));
    const mine = seal(key, fromHex(V.pt), fromHex(V.aad));
    const nonce = mine.subarray(0, NONCE_BYTES);
    assert.deepEqual(mine.subarray(NONCE_BYTES), gcm(key, nonce, fromHex(V.aad)).encrypt(fromHex(V.pt)));
  });

  it('both refuse the vector with a flipped tag bit', () => {
    const bad = new Uint8Array(sealed);
    bad[bad.length - 1]! ^= 0x80;
    assert.throws(() => open(key, bad, fromHex(V.aad)), DecryptError);
    assert.throws(() => openNoble(key, bad, fromHex(V.aad)), DecryptError);
  });
});

describe('node <-> noble interop', () => {
  const key: SymmetricKey = generateSymmetricKey();
  const sizes = [0, 1, 16, 1000, 4096];

  it('node seals, noble opens', () => {
    for (const n of sizes) {
      const pt = Uint8Array.from({ length: n }, (_, i) => i);
      assert.deepEqual(openNoble(key, seal(key, pt, utf8('aad')), utf8('aad')), pt);
    }
  });

  it('noble seals, node opens', () => {
    for (const n of sizes) {
      const pt = Uint8Array.from({ length: n }, (_, i) => 255 - (i & 255));
      assert.deepEqual(open(key, sealNoble(key, pt, utf8('aad')), utf8('aad')), pt);
      assert.deepEqual(open(key, sealNoble(key, pt)), pt);
    }
  });

  it('noble refuses wrong keys, wrong aad and short input with DecryptError', () => {
    const sealed = seal(key, utf8('x'), utf8('aad'));
    assert.throws(() => openNoble(generateSymmetricKey(), sealed, utf8('aad')), DecryptError);
    assert.throws(() => openNoble(key, sealed), DecryptError);
    assert.throws(() => openNoble(key, sealed.subarray(0, 27)), DecryptError);
  });
});
