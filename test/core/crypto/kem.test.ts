import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecryptError, KeyFormatError } from '../../../src/core/errors.js';
import { hash, toHex } from '../../../src/core/crypto/hash.js';
import {
  KEM_CIPHERTEXT_BYTES,
  READ_PUBLIC_KEY_BYTES,
  READ_SECRET_KEY_BYTES,
  type PrivateReadKey,
  decapsulate,
  encapsulate,
  generateReadKeyPair,
  openSealed,
  publicReadKey,
  readKeyHash,
  sealTo,
} from '../../../src/core/crypto/kem.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('KEM', () => {
  const alice = generateReadKeyPair();
  const bob = generateReadKeyPair();

  it('key pairs have the documented sizes; a seed makes them deterministic (pinned)', () => {
    assert.equal(alice.publicKey.length, READ_PUBLIC_KEY_BYTES);
    assert.equal(alice.secretKey.length, READ_SECRET_KEY_BYTES);
    const k = generateReadKeyPair(SEED);
    assert.deepEqual(generateReadKeyPair(SEED), k);
    assert.equal(toHex(hash(k.publicKey)), 'c9a3565ffde4f72b51661be391ee13e46378d7f06dd5c8bf5af9d2cfb5b8336b');
    assert.equal(toHex(readKeyHash(publicReadKey(k))), '4a6c0e013d6d4e474b3ea71a35e9cc11514f4eec0eb0e33b5667d4362dd7da3c');
    assert.notDeepEqual(alice.publicKey, bob.publicKey);
    assert.throws(() => generateReadKeyPair(new Uint8Array(31)), KeyFormatError);
  });

  it('encapsulate / decapsulate agree on the shared secret', () => {
    const { cipherText, sharedSecret } = encapsulate(publicReadKey(alice));
    assert.equal(cipherText.length, KEM_CIPHERTEXT_BYTES);
    assert.equal(sharedSecret.length, 32);
    assert.deepEqual(decapsulate(alice, cipherText), sharedSecret);
    assert.notDeepEqual(decapsulate(bob, cipherText), sharedSecret);
  });

  it('decapsulate: DecryptError on a malformed ciphertext, KeyFormatError on a malformed key', () => {
    assert.throws(() => decapsulate(alice, new Uint8Array(KEM_CIPHERTEXT_BYTES - 1)), DecryptError);
    assert.throws(() => decapsulate({ publicKey: alice.publicKey, secretKey: new Uint8Array(5) }, new Uint8Array(KEM_CIPHERTEXT_BYTES)), KeyFormatError);
    assert.throws(() => encapsulate({ bytes: new Uint8Array(10) }), KeyFormatError);
  });

  it('sealTo / openSealed round trip, with aad', () => {
    const pt = utf8('the data key');
    const sealed = sealTo(publicReadKey(alice), pt, utf8('aad'));
    assert.deepEqual(openSealed(alice, sealed, utf8('aad')), pt);
    assert.deepEqual(openSealed(alice, sealTo(publicReadKey(alice), new Uint8Array(0))), new Uint8Array(0));
  });

  it('refuses a wrong key, wrong aad, tampering and truncation', () => {
    const sealed = sealTo(publicReadKey(alice), utf8('x'), utf8('aad'));
    assert.throws(() => openSealed(bob, sealed, utf8('aad')), DecryptError);
    assert.throws(() => openSealed(alice, sealed), DecryptError);
    for (const i of [0, KEM_CIPHERTEXT_BYTES - 1, KEM_CIPHERTEXT_BYTES + 20, sealed.length - 1]) {
      const bad = new Uint8Array(sealed);
      bad[i]! ^= 1;
      assert.throws(() => openSealed(alice, bad, utf8('aad')), DecryptError, `byte ${i}`);
    }
    assert.throws(() => openSealed(alice, sealed.subarray(0, KEM_CIPHERTEXT_BYTES + 27), utf8('aad')), DecryptError);
    assert.throws(() => openSealed(alice, new Uint8Array(0)), DecryptError);
  });

  it('read key ids differ per key and come from the public half', () => {
    assert.notDeepEqual(readKeyHash(publicReadKey(alice)), readKeyHash(publicReadKey(bob)));
    assert.deepEqual(readKeyHash({ bytes: new Uint8Array(alice.publicKey) }), readKeyHash(publicReadKey(alice as PrivateReadKey)));
  });
});
