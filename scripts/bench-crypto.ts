// Crypto cost figures for the cost model in DESIGN.md: `npm run build && node dist/scripts/bench-crypto.js`.
// Each line is ops/s measured in this run; the node-vs-noble ratio uses a baseline from the same run.
import {
  DEFAULT_KDF,
  derivePasswordKey,
  generateReadKeyPair,
  generateSignKey,
  generateSymmetricKey,
  hash,
  newSalt,
  open,
  openSealed,
  publicReadKey,
  publicSignKey,
  seal,
  sealNoble,
  sealTo,
  sign,
  verify,
} from '../src/core/crypto/index.js';

/** Runs `fn` in batches for about `ms` milliseconds after a warm-up; returns operations per second. */
function rate(fn: () => unknown, ms = 1000): number {
  for (let i = 0; i < 3; i++) fn();
  // Batch size so that one batch takes ~10 ms: the clock is read rarely for fast operations.
  let t = performance.now();
  fn();
  const batch = Math.max(1, Math.floor(10 / Math.max(performance.now() - t, 1e-3)));
  let n = 0;
  const start = (t = performance.now());
  while (t - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    t = performance.now();
  }
  return (n / (t - start)) * 1000;
}

/** The same for an asynchronous operation, one at a time. */
async function rateAsync(fn: () => Promise<unknown>, ms: number): Promise<number> {
  await fn();
  let n = 0;
  const start = performance.now();
  let t = start;
  while (t - start < ms) {
    await fn();
    n++;
    t = performance.now();
  }
  return (n / (t - start)) * 1000;
}

const fmt = (opsPerSec: number): string => {
  const perOp = 1000 / opsPerSec;
  const time = perOp >= 1 ? `${perOp.toFixed(2)} ms` : `${(perOp * 1000).toFixed(1)} us`;
  return `${Math.round(opsPerSec).toLocaleString('en-US').padStart(10)} ops/s  (${time}/op)`;
};
const line = (name: string, opsPerSec: number, extra = ''): void => console.log(`${name.padEnd(28)} ${fmt(opsPerSec)}${extra}`);

const KiB = new Uint8Array(1024).fill(7);
const key = generateSymmetricKey();
const sealed = seal(key, KiB);

const sealNode = rate(() => seal(key, KiB));
const sealPure = rate(() => sealNoble(key, KiB));
line('seal 1 KiB (node:crypto)', sealNode, `  ${(sealNode / sealPure).toFixed(1)}x noble, ${((sealNode * 1024) / 2 ** 20).toFixed(0)} MiB/s`);
line('seal 1 KiB (noble)', sealPure);
line('open 1 KiB (node:crypto)', rate(() => open(key, sealed)));
line('hash 1 KiB (SHA-256)', rate(() => hash(KiB)));

const msg = hash(KiB);
for (const alg of ['ml-dsa-65', 'falcon-512'] as const) {
  const k = generateSignKey(alg);
  const sig = sign(k, msg);
  line(`${alg} sign`, rate(() => sign(k, msg)));
  line(`${alg} verify`, rate(() => verify(publicSignKey(k), msg, sig)));
}

const reader = generateReadKeyPair();
const toReader = sealTo(publicReadKey(reader), msg);
line('KEM sealTo 32 B', rate(() => sealTo(publicReadKey(reader), msg)));
line('KEM openSealed 32 B', rate(() => openSealed(reader, toReader)));

const salt = newSalt();
console.log(`(KDF default = scrypt N=2^${Math.log2(DEFAULT_KDF.N)} r=${DEFAULT_KDF.r} p=${DEFAULT_KDF.p})`);
line('KDF default', await rateAsync(() => derivePasswordKey('correct horse battery', salt), 3000));
