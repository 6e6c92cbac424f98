// Group signing: idle() returns only once every event added before it is signed, also when the
// backlog is larger than one group (a chain closes after idle(): an event left out stays unsigned).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SignerPool, generateSignKey, publicSignKey, verify } from '../../../src/core/index.js';
import { GroupSigner } from '../../../src/core/chain/group-signer.js';
import type { Metadata } from '../../../src/core/event/metadata.js';
import { coveredIdBlocks, signedMessageOfBytes } from '../../../src/core/trust/signatures.js';

test('idle() waits for a backlog of more than one group, and each proof verifies', async () => {
  const pool = new SignerPool();
  const key = generateSignKey();
  const proofs: Metadata[] = [];
  const failures: unknown[] = [];
  // A long interval: idle() must cut the pause before each group short.
  const signer = new GroupSigner(pool, (meta) => proofs.push(meta), () => false, 60_000, (err) => failures.push(err));
  try {
    const total = 70_000; // more than two groups of 32,768
    const ids: Buffer[] = [];
    for (let i = 0; i < total; i++) ids.push(randomBytes(32));
    for (const id of ids) signer.add(key, id);
    await signer.idle();
    assert.deepEqual(failures, []);
    const covered = proofs.flatMap((p) => coveredIdBlocks(p));
    assert.equal(Buffer.concat(covered).length, total * 32, 'every event added before idle() is signed');
    assert.deepEqual(Buffer.concat(covered), Buffer.concat(ids), 'in the order they were added');
    assert.ok(proofs.length >= 3, `the backlog took ${proofs.length} groups`);
    for (const p of proofs) {
      for (const sig of p.signatures ?? []) {
        assert.ok(verify(publicSignKey(key), signedMessageOfBytes(sig.eventBytes!), sig.signature));
      }
    }

    // Events added after idle() was called do not hold it up.
    signer.add(key, randomBytes(32));
    const before = proofs.length;
    await signer.idle();
    assert.equal(proofs.length, before + 1);
  } finally {
    await pool.close();
  }
});
