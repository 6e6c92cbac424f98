// A long run of the fsx-style model checker on a real atefs mount (root, /dev/fuse and python3 needed).
//   node dist/scripts/fsx.js [--ops N] [--seed S] [--remount-every N] [--chunk-size BYTES] [--scope local|full]
// Prints the seed first; a failure prints the operations before it. Exit code 1 on any mismatch.
import { runFsx } from '../test/fs/fsx-lib.js';
import { mountFixture } from '../test/fs/helpers.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const ops = Number(arg('ops', '200000'));
const seed = Number(arg('seed', String(Math.floor(Math.random() * 2 ** 31))));
const every = Number(arg('remount-every', '50000'));
const chunkSize = Number(arg('chunk-size', '0'));
const scope = arg('scope', 'local') === 'full' ? 'full' : 'local';
console.log(`fsx: seed ${seed}, ${ops} operations, remount every ${every}${chunkSize ? `, chunk size ${chunkSize}` : ''}, scope ${scope}`);
const fx = await mountFixture({ scope, ...(chunkSize ? { chunkSize } : {}), log: (l) => console.error(l) }, 'atefs-fsx-long');
let code = 0;
try {
  const t0 = Date.now();
  const result = await runFsx({
    seed,
    ops,
    dir: fx.mnt,
    files: 4,
    maxSize: 4 * 1024 * 1024,
    checkpointEvery: every,
    onCheckpoint: async (i) => {
      console.log(`  ${i} operations, ${((Date.now() - t0) / 1000).toFixed(0)} s: remounting`);
      await fx.remount();
    },
  });
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(result.counts)}`);
  if (result.mismatches.length > 0) {
    code = 1;
    for (const m of result.mismatches) console.error(m);
  } else console.log('no mismatches');
} finally {
  await fx.cleanup();
}
process.exit(code);
