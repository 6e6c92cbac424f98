import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from '../../../src/core/crypto/random.js';
import { toHex } from '../../../src/core/crypto/hash.js';

describe('randomBytes', () => {
  it('returns n fresh plain bytes', () => {
    const a = randomBytes(32);
    assert.equal(a.length, 32);
    assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
    assert.notEqual(toHex(a), toHex(randomBytes(32)));
    assert.equal(randomBytes(0).length, 0);
  });
});
