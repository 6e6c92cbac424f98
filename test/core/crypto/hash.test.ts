import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { KeyFormatError } from '../../../src/core/errors.js';
import { HASH_BYTES, equalBytes, fromHex, hash, toHex } from '../../../src/core/crypto/hash.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('hash', () => {
  it('is SHA-256 (FIPS 180-2 vectors)', () => {
    assert.equal(toHex(hash(utf8('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(toHex(hash()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes the concatenation of its parts', () => {
    assert.deepEqual(hash(utf8('a'), utf8('bc'), new Uint8Array(0)), hash(utf8('abc')));
  });

  it('returns 32 plain bytes and reads views at their offset', () => {
    const big = utf8('xxabcxx');
    const h = hash(big.subarray(2, 5));
    assert.equal(h.length, HASH_BYTES);
    assert.equal(Object.getPrototypeOf(h), Uint8Array.prototype);
    assert.equal(toHex(h), createHash('sha256').update('abc').digest('hex'));
  });
});

describe('hex', () => {
  it('round trips', () => {
    const b = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.deepEqual(fromHex(toHex(b)), b);
    assert.equal(toHex(Uint8Array.of(0, 0xab, 0xff)), '00abff');
    assert.deepEqual(fromHex('00ABff'), Uint8Array.of(0, 0xab, 0xff));
    assert.deepEqual(fromHex(''), new Uint8Array(0));
  });

  it('rejects bad hex with KeyFormatError', () => {
    for (const bad of ['0', 'abc', 'zz', '0g', ' 00', '00 ', '0x00']) assert.throws(() => fromHex(bad), KeyFormatError, bad);
  });
});

describe('equalBytes', () => {
  it('compares contents', () => {
    assert.equal(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true);
    assert.equal(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false);
    assert.equal(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)), false);
    assert.equal(equalBytes(new Uint8Array(0), new Uint8Array(0)), true);
  });
});
