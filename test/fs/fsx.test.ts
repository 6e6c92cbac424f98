// The fsx-style model checker on a real mount (see fsx-lib.ts). CI runs 2 x 10,000 operations,
// split over this file and fsx-small-chunks.test.ts so that each file stays well under 90 s.
// ATEFS_FSX_SEED and ATEFS_FSX_OPS override; scripts/fsx.ts runs long ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MountOptions } from '../../src/fs/index.js';
import { runFsx } from './fsx-lib.js';
import { mountFixture } from './helpers.js';

export function fsxTest(label: string, mount: Partial<MountOptions>): void {
  const seed = Number(process.env.ATEFS_FSX_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const ops = Number(process.env.ATEFS_FSX_OPS ?? 10_000);
  test(`fsx ${label}: ${ops} random operations against a model (seed ${seed}), with a remount midway`, { timeout: 600_000 }, async () => {
    const fx = await mountFixture(mount, 'atefs-fsx');
    try {
      const t0 = Date.now();
      const result = await runFsx({ seed, ops, dir: fx.mnt, checkpointEvery: Math.ceil(ops / 2), onCheckpoint: () => fx.remount() });
      const took = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(`fsx ${label} seed ${seed}: ${ops} operations in ${took} s: ${JSON.stringify(result.counts)}; ms per kind ${JSON.stringify(result.times)}`);
      assert.deepEqual(result.mismatches, [], `fsx found mismatches (rerun with ATEFS_FSX_SEED=${seed})`);
    } finally {
      await fx.cleanup();
    }
  });
}

if (process.argv[1]?.endsWith('fsx.test.js')) fsxTest('128 KiB chunks', {});
