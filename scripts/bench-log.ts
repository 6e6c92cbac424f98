// Redo log benchmarks, each against a raw file-system baseline measured in the same run:
//   node dist/scripts/bench-log.js [events=1000000] [dir=os.tmpdir()]
// 1. 100,000 appends of 1 KiB, then one flush        (baseline: one write of the same bytes);
//    and the same in flushes of 1,000
// 2. 16 writers looping append + durable flush, 2 s  (baseline: one writer, write + fdatasync each)
// 3. reopen + replay of `events` events of ~1.1 KiB  (baseline: reading the files in 4 MiB chunks)
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileLog } from '../src/core/log/index.js';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const ROOT = process.argv[3] ?? tmpdir();
const CHAIN = 'bench/chain';
const KEY = randomBytes(32);
const POOL = randomBytes(1 << 20);

function payload(i: number, size: number): Buffer {
  const b = Buffer.from(POOL.subarray((i * 977) % (POOL.length - size), ((i * 977) % (POOL.length - size)) + size));
  b.writeUInt32BE(i, 0);
  return b;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const secs = (t0: number) => (performance.now() - t0) / 1000;

async function appendFlush(dir: string): Promise<void> {
  const n = 100_000;
  const events = Array.from({ length: n }, (_, i) => payload(i, 1024));
  const log = await openFileLog(join(dir, 'append'), { chainKey: CHAIN });
  let t0 = performance.now();
  for (const e of events) log.append(e);
  await log.flush();
  const t = secs(t0);
  t0 = performance.now();
  for (let i = 0; i < n; i++) {
    log.append(events[i]!);
    if (i % 1000 === 999) await log.flush();
  }
  const tSteady = secs(t0);
  await log.destroy();

  const raw = await open(join(dir, 'raw-append'), 'w');
  const all = Buffer.concat(events);
  t0 = performance.now();
  await raw.write(all, 0, all.length, 0);
  const tRaw = secs(t0);
  await raw.close();
  console.log(`append+flush   ${fmt(n / t)} records/s (${fmt(all.length / t / 2 ** 20)} MiB/s); raw write ${fmt(all.length / tRaw / 2 ** 20)} MiB/s; ratio ${(tRaw / t).toFixed(2)}`);
  console.log(`  per 1,000    ${fmt(n / tSteady)} records/s (${fmt(all.length / tSteady / 2 ** 20)} MiB/s); ratio ${(tRaw / tSteady).toFixed(2)}`);
}

async function groupCommit(dir: string): Promise<void> {
  const writers = 16;
  const ms = 2000;
  const log = await openFileLog(join(dir, 'group'), { chainKey: CHAIN, sealKey: KEY });
  const syncs = log.stats.syncs;
  let flushes = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        log.append(payload(w * 1e6 + i, 1024));
        await log.flush({ durable: true });
        flushes++;
      }
    }),
  );
  const used = log.stats.syncs - syncs;
  await log.destroy();

  const raw = await open(join(dir, 'raw-sync'), 'w');
  const b = payload(0, 1024);
  let n = 0;
  const rawEnd = performance.now() + ms / 2;
  for (let pos = 0; performance.now() < rawEnd; pos += b.length, n++) {
    await raw.write(b, 0, b.length, pos);
    await raw.datasync();
  }
  await raw.close();
  const rate = flushes / (ms / 1000);
  const rawRate = n / (ms / 2000);
  console.log(`group commit   ${fmt(rate)} durable flushes/s from ${writers} writers, ${fmt(used)} fdatasyncs for ${fmt(flushes)} flushes (${(flushes / used).toFixed(1)} per sync); one writer write+fdatasync ${fmt(rawRate)}/s; ratio ${(rate / rawRate).toFixed(2)}`);
}

async function replay(dir: string): Promise<void> {
  const path = join(dir, 'replay');
  let log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY });
  let bytes = 0;
  let t0 = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const e = payload(i, 1024 + (i % 200));
    bytes += e.length;
    log.append(e);
    if (i % 10_000 === 9_999) await log.flush();
  }
  await log.close();
  console.log(`write          ${fmt(EVENTS)} events, ${fmt(bytes / 2 ** 20)} MiB, sealed, in ${secs(t0).toFixed(2)} s`);

  for (const sealKey of [KEY, undefined, KEY, undefined]) {
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    log = await openFileLog(path, { chainKey: CHAIN, sealKey });
    const tOpen = secs(t0);
    let n = 0;
    let sealed = 0;
    for await (const batch of log.replay()) {
      n += batch.events.length;
      if (batch.sealed) sealed += batch.events.length;
    }
    const t = secs(t0);
    const cpu = process.cpuUsage(cpu0);
    await log.close();
    if (n !== EVENTS) throw new Error(`replayed ${n} of ${EVENTS}`);
    console.log(`open+replay ${sealKey ? 'key   ' : 'no key'}  ${fmt(n / t)} records/s (${fmt(bytes / t / 2 ** 20)} MiB/s), ${t.toFixed(2)} s (cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s) of which open ${tOpen.toFixed(2)} s, ${fmt(sealed)} sealed`);
  }

  t0 = performance.now();
  let read = 0;
  const chunk = Buffer.allocUnsafe(4 << 20);
  for (const name of (await readdir(path)).filter((f) => f.endsWith('.seg'))) {
    const fh = await open(join(path, name), 'r');
    for (let got; (got = (await fh.read(chunk, 0, chunk.length, null)).bytesRead) > 0; ) read += got;
    await fh.close();
  }
  const tRaw = secs(t0);
  console.log(`raw read       ${fmt(read / tRaw / 2 ** 20)} MiB/s, ${tRaw.toFixed(2)} s for the same files`);
}

const dir = await mkdtemp(join(ROOT, 'ate-bench-log-'));
try {
  await appendFlush(dir);
  await groupCommit(dir);
  await replay(dir);
} finally {
  await rm(dir, { recursive: true, force: true });
}
