import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js';
import { ConfigError, KeyFormatError } from '../../../src/core/errors.js';
import { DEFAULT_KDF, FAST_KDF_FOR_TESTS, derivePasswordKey, keyFromSeed, newSalt } from '../../../src/core/crypto/kdf.js';
import { toHex } from '../../../src/core/crypto/hash.js';

const FAST = FAST_KDF_FOR_TESTS;

describe('derivePasswordKey', () => {
  const salt = new Uint8Array(16).fill(7);

  it('is scrypt with the given parameters (checked against @noble/hashes) and pinned', async () => {
    const key = await derivePasswordKey('correct horse', salt, FAST);
    assert.equal(key.length, 32);
    assert.deepEqual(key, nobleScrypt('correct horse', salt, { ...FAST, dkLen: 32 }));
    assert.equal(toHex(key), 'e67d05f8e1922fb06100008e67a8a5a150455910913118aeae9dd1750c44ebc0');
  });

  it('same inputs give the same key; another salt, password or cost another key', async () => {
    const a = await derivePasswordKey('pw', salt, FAST);
    assert.deepEqual(await derivePasswordKey('pw', salt, FAST), a);
    assert.notDeepEqual(await derivePasswordKey('pw', newSalt(), FAST), a);
    assert.notDeepEqual(await derivePasswordKey('pW', salt, FAST), a);
    assert.notDeepEqual(await derivePasswordKey('pw', salt, { ...FAST, N: FAST.N * 2 }), a);
  });

  it('normalizes the password (NFKC)', async () => {
    assert.deepEqual(await derivePasswordKey('caf\u00e9', salt, FAST), await derivePasswordKey('cafe\u0301', salt, FAST));
    assert.deepEqual(await derivePasswordKey('\ufb01', salt, FAST), await derivePasswordKey('fi', salt, FAST));
  });

  it('refuses a short salt and impossible parameters with ConfigError', async () => {
    await assert.rejects(derivePasswordKey('pw', new Uint8Array(8), FAST), ConfigError);
    await assert.rejects(derivePasswordKey('pw', salt, { N: 1000, r: 8, p: 1 }), ConfigError);
  });

  it('the default costs 64 MiB of memory', () => {
    assert.equal(128 * DEFAULT_KDF.N * DEFAULT_KDF.r, 64 * 2 ** 20);
    assert.equal(newSalt().length, 16);
  });
});

describe('keyFromSeed', () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);

  it('is one length-prefixed hash, pinned', () => {
    const k = keyFromSeed(seed, 'ate/test');
    const expected = createHash('sha256').update('ate/seed-key').update(Uint8Array.of(0, 8)).update('ate/test').update(seed).digest();
    assert.deepEqual(k, new Uint8Array(expected));
    assert.equal(toHex(k), 'e511a8b4138f25215b7ee7e6c656fcb2e555a452c8495eb77335c8def1e6e709');
  });

  it('separates contexts and seeds', () => {
    assert.notDeepEqual(keyFromSeed(seed, 'a'), keyFromSeed(seed, 'b'));
    assert.notDeepEqual(keyFromSeed(seed, 'a'), keyFromSeed(seed.subarray(1), 'a'));
  });

  it('refuses a low-entropy seed', () => {
    assert.throws(() => keyFromSeed(new Uint8Array(15), 'a'), KeyFormatError);
  });
});
