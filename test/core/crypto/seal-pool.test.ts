import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateSymmetricKey, open } from '../../../src/core/crypto/aead.js';
import { SEAL_POOL_THRESHOLD, SealPool } from '../../../src/core/crypto/seal-pool.js';
import { ClosedError } from '../../../src/core/errors.js';

const aadOf = (i: number): Uint8Array => Buffer.from(`key-${String(i).padStart(8, '0')}`);

describe('SealPool', () => {
  it('seals large batches in its worker, reusing memory across batches of changing sizes; every item opens', async () => {
    const pool = new SealPool();
    const key = generateSymmetricKey();
    try {
      // Growing, shrinking and concurrent batches: the worker hands back each batch's plaintext
      // memory and later batches gather into it, so a stale byte would show as a wrong plaintext.
      const shapes = [
        [40_000, 40_000],
        [131_072, 131_072, 131_072, 131_072],
        [33_000, 1, 70_000],
        [131_072, 131_072, 131_072, 131_072, 131_072, 131_072, 131_072, 131_072],
        [20_000, 20_000],
        [65_536, 65_536, 65_536],
      ];
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          shapes.map(async (sizes) => {
            const plains = sizes.map((n) => randomBytes(n));
            const sealed = await pool.sealMany(key, plains.map((plain, i) => ({ plain, aad: aadOf(i) })));
            assert.equal(sealed.length, plains.length);
            sealed.forEach((s, i) => assert.deepEqual(Buffer.from(open(key, s, aadOf(i))), plains[i]));
            // The caller's plaintexts are untouched (they were copied, not moved).
            plains.forEach((p, i) => assert.equal(p.length, sizes[i]));
          }),
        );
      }
    } finally {
      await pool.close();
    }
  });

  it('seals small batches inline, and after close', async () => {
    const pool = new SealPool();
    const key = generateSymmetricKey();
    const small = [randomBytes(SEAL_POOL_THRESHOLD / 4), randomBytes(10)];
    const sealed = await pool.sealMany(key, small.map((plain, i) => ({ plain, aad: aadOf(i) })));
    sealed.forEach((s, i) => assert.deepEqual(Buffer.from(open(key, s, aadOf(i))), small[i]));
    await pool.close();
    const big = [randomBytes(SEAL_POOL_THRESHOLD), randomBytes(SEAL_POOL_THRESHOLD)];
    const after = await pool.sealMany(key, big.map((plain, i) => ({ plain, aad: aadOf(i) })));
    after.forEach((s, i) => assert.deepEqual(Buffer.from(open(key, s, aadOf(i))), big[i]));
  });

  it('a batch in flight when the pool closes fails with ClosedError', async () => {
    const pool = new SealPool();
    const key = generateSymmetricKey();
    const pending = pool.sealMany(key, [0, 1].map((i) => ({ plain: randomBytes(1 << 20), aad: aadOf(i) })));
    const refused = assert.rejects(pending, ClosedError);
    await pool.close();
    await refused;
  });
});
