// Replay for streaming (checks 'crc', transient): the reads reuse their memory, so a batch lives only
// until the next one is asked for. Copied at once, the batches must hold the same bytes as a normal
// replay, across chunk boundaries (4 MiB), records cut by them, records longer than a chunk and
// segment rotations; a damaged record is still found without the seal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog } from '../../../src/core/log/index.js';
import { LogCorruptError } from '../../../src/core/errors.js';
import { CHAIN, KEY, bytesOf, flipByte, withDir } from './helpers.js';

/** Sizes from tiny to past a whole chunk, in an order that puts records across chunk boundaries. */
const SIZES = [100, 70_000, 1_000_001, 5 * 1024 * 1024 + 3, 999, 2_500_000, 17, 3_000_000, 64 * 1024];

function payload(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let at = 0; at < size; at += 4) b.writeUInt32BE((i * 2654435761 + at) >>> 0, Math.min(at, size - 4));
  return b;
}

async function transientBytes(path: string): Promise<Buffer[]> {
  const log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY, segmentBytes: 12 * 1024 * 1024 });
  try {
    const out: Buffer[] = [];
    for await (const batch of log.replay({ checks: 'crc', transient: true })) {
      assert.equal(batch.sealed, false, 'no seal is checked');
      for (const e of batch.events) out.push(Buffer.from(e.bytes));
    }
    return out;
  } finally {
    await log.close();
  }
}

test('a transient replay, copied batch by batch, reads what a sealed replay reads', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'log');
    const log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY, segmentBytes: 12 * 1024 * 1024 });
    const written: Buffer[] = [];
    for (let round = 0; round < 3; round++) {
      SIZES.forEach((size, i) => {
        const p = payload(round * 100 + i, size);
        written.push(p);
        log.append(p);
      });
      await log.flush();
    }
    await log.close();
    assert.ok((await readdir(path)).filter((f) => f.endsWith('.seg')).length > 1, 'the log spans several segments');

    const sealedLog = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY, segmentBytes: 12 * 1024 * 1024 });
    const sealed = await bytesOf(sealedLog);
    await sealedLog.close();
    assert.deepEqual(sealed, written);
    assert.deepEqual(await transientBytes(path), written);

    // A changed byte fails its record's CRC.
    const first = (await readdir(path)).filter((f) => f.endsWith('.seg')).sort()[0]!;
    await flipByte(join(path, first), 5_000_000);
    await assert.rejects(transientBytes(path), LogCorruptError);
  });
});
