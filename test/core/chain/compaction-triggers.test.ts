import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import {
  ChainBuilder,
  type Chain,
  type CompactMode,
  type CompactionStats,
  CompactionScheduler,
  ClosedError,
  Dio,
  type SchedulerHost,
  type SchedulerOptions,
  anonymousSession,
} from '../../../src/core/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const STATS: CompactionStats = { before: 0, after: 0, dropped: 0, refused: 0, bytesBefore: 0, bytesAfter: 0, cutOff: 0, ms: 0 };

/** A chain stand-in: a log size that writes grow, and a compaction that halves it. */
class FakeChain implements SchedulerHost {
  readonly key = '/fake';
  logSize = 0;
  runs = 0;
  running = 0;
  overlapped = false;
  compactMs = 0;
  fail = false;
  private readonly listeners = new Set<() => void>();
  readonly scheduler: CompactionScheduler;

  constructor(
    readonly config: { compactMode: CompactMode; compactBootstrap: boolean },
    options: SchedulerOptions = {},
  ) {
    this.scheduler = new CompactionScheduler(this, () => this.compact(), { idleMs: 40, factorFloorBytes: 1000, ...options });
  }

  onEvent(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  write(bytes: number): void {
    this.logSize += bytes;
    for (const l of this.listeners) l();
  }

  private async compact(): Promise<CompactionStats> {
    if (this.running > 0) this.overlapped = true;
    this.running++;
    try {
      await sleep(this.compactMs);
      if (this.fail) throw new Error('disk on fire');
      this.runs++;
      this.logSize = Math.floor(this.logSize / 2);
      return STATS;
    } finally {
      this.running--;
    }
  }
}

async function fake(mode: CompactMode, bootstrap = false): Promise<FakeChain> {
  const f = new FakeChain({ compactMode: mode, compactBootstrap: bootstrap });
  await f.scheduler.start();
  return f;
}

test('never: writes and time do not compact', async () => {
  const f = await fake({ kind: 'never' });
  f.write(1e9);
  await sleep(100);
  assert.equal(f.runs, 0);
  await f.scheduler.stop();
});

test('modified: compacts once writes have stopped for the idle time', async () => {
  const f = await fake({ kind: 'modified' });
  await sleep(80);
  assert.equal(f.runs, 0, 'no write, no compaction');
  for (let i = 0; i < 8; i++) {
    f.write(10);
    await sleep(10);
  }
  assert.equal(f.runs, 0, 'still writing');
  await sleep(100);
  assert.equal(f.runs, 1);
  await sleep(100);
  assert.equal(f.runs, 1, 'nothing written since');
  await f.scheduler.stop();
});

test('timer: compacts every interval, counted from the last compaction', async () => {
  const f = await fake({ kind: 'timer', intervalMs: 150 });
  await sleep(50);
  assert.equal(f.runs, 0);
  await sleep(170);
  assert.equal(f.runs, 1);
  await f.scheduler.run();
  const runs = f.runs;
  await sleep(50);
  assert.equal(f.runs, runs, 'a manual compaction restarts the interval');
  await sleep(170);
  assert.equal(f.runs, runs + 1);
  await f.scheduler.stop();
});

test('factor: compacts when the log grew by the factor, never below the floor', async () => {
  const f = await fake({ kind: 'factor', growth: 0.5 });
  f.write(900);
  await sleep(10);
  assert.equal(f.runs, 0, 'below the floor of 1000 bytes');
  f.write(200);
  await sleep(10);
  assert.equal(f.runs, 1, 'past the floor');
  // Now 550 bytes: the floor holds until 1000, then growth is measured from 550 (x1.5 = 825).
  f.write(400);
  await sleep(10);
  assert.equal(f.runs, 1, '950 bytes: grown by more than half, but below the floor');
  f.write(100);
  await sleep(10);
  assert.equal(f.runs, 2);
  await f.scheduler.stop();
});

test('size: compacts when the log grew by the size since the last compaction', async () => {
  const f = await fake({ kind: 'size', bytes: 1000 });
  f.write(999);
  await sleep(10);
  assert.equal(f.runs, 0);
  f.write(1);
  await sleep(10);
  assert.equal(f.runs, 1);
  f.write(999);
  await sleep(10);
  assert.equal(f.runs, 1, 'measured from the size after compaction (500)');
  f.write(1);
  await sleep(10);
  assert.equal(f.runs, 2);
  await f.scheduler.stop();
});

test('factor-or-timer and size-or-timer: whichever comes first', async () => {
  for (const mode of [
    { kind: 'factor-or-timer', growth: 0.5, intervalMs: 150 },
    { kind: 'size-or-timer', bytes: 1000, intervalMs: 150 },
  ] as const) {
    const byGrowth = await fake(mode);
    byGrowth.write(5000);
    await sleep(10);
    assert.equal(byGrowth.runs, 1, `${mode.kind} by growth`);
    await byGrowth.scheduler.stop();

    const byTimer = await fake(mode);
    byTimer.write(10);
    await sleep(50);
    assert.equal(byTimer.runs, 0, `${mode.kind}: neither yet`);
    await sleep(170);
    assert.equal(byTimer.runs, 1, `${mode.kind} by timer`);
    await byTimer.scheduler.stop();
  }
});

test('bootstrap: compacts once before start resolves', async () => {
  const f = await fake({ kind: 'never' }, true);
  assert.equal(f.runs, 1);
  await f.scheduler.stop();
});

test('runs never overlap; writes during a run trigger again after it', async () => {
  const f = await fake({ kind: 'modified' });
  f.compactMs = 100;
  f.write(10); // idle at 40 ms: a run from 40 to 140 ms
  await sleep(60);
  assert.equal(f.running, 1);
  f.write(10); // during the run: the idle timer fires at 100 ms, while it still runs
  await sleep(300); // after the run, 40 ms idle: a second run from 180 to 280 ms
  assert.equal(f.runs, 2, 'the write made during the first run was compacted by a second');
  const manual = f.scheduler.run();
  const queued = f.scheduler.run();
  await Promise.all([manual, queued]);
  assert.equal(f.runs, 4);
  await sleep(100);
  assert.equal(f.runs, 4, 'no writes, no more runs');
  assert.equal(f.overlapped, false);
  await f.scheduler.stop();
});

test('failures go to the error listeners, or become process warnings', async () => {
  const f = await fake({ kind: 'size', bytes: 10 });
  f.fail = true;
  const errors: Error[] = [];
  const off = f.scheduler.onError((e) => errors.push(e));
  f.write(100);
  await sleep(10);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /disk on fire/);
  off();

  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  f.write(100);
  await sleep(20);
  process.off('warning', onWarning);
  assert.ok(warnings.some((w) => /compaction of chain \/fake failed: disk on fire/.test(w.message)), String(warnings));
  await assert.rejects(f.scheduler.run(), /disk on fire/, 'a manual run reports to its caller');
  await f.scheduler.stop();
});

test('after stop nothing runs, and run() is refused', async () => {
  const f = await fake({ kind: 'timer', intervalMs: 20 });
  await f.scheduler.stop();
  await sleep(60);
  assert.equal(f.runs, 0);
  await assert.rejects(f.scheduler.run(), ClosedError);
});

// The same triggers on real chains.

function compacted(chain: Chain, timeoutMs = 5000): Promise<CompactionStats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no compaction within ${timeoutMs} ms`)), timeoutMs);
    const off = chain.compaction.onCompacted((s) => {
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

/** `versions` small versions of one object, then `bulk` bytes in one commit (so a growth trigger fires after the last write). */
async function write(chain: Chain, versions: number, bulk: number): Promise<void> {
  const dio = new Dio(chain, anonymousSession());
  const dao = dio.store({ v: 0 });
  await dio.commit();
  for (let v = 1; v < versions; v++) {
    const d = new Dio(chain, anonymousSession());
    const loaded = await d.load<{ v: number }>(dao.key);
    loaded.value = { v };
    loaded.commit();
    await d.commit();
  }
  // The cut-off keeps whatever is stamped in the millisecond the compaction runs in.
  await sleep(3);
  const d = new Dio(chain, anonymousSession());
  for (let i = 0; i * 100_000 < bulk; i++) d.store({ pad: 'x'.repeat(Math.min(100_000, bulk - i * 100_000)) });
  await d.commit();
}

test('chains compact on their triggers: timer, size, factor, modified', async () => {
  const modes: { mode: CompactMode; bulk: number }[] = [
    { mode: { kind: 'timer', intervalMs: 300 }, bulk: 0 },
    { mode: { kind: 'size', bytes: 20_000 }, bulk: 30_000 },
    { mode: { kind: 'size-or-timer', bytes: 20_000, intervalMs: 3_600_000 }, bulk: 30_000 },
    { mode: { kind: 'factor-or-timer', growth: 0.2, intervalMs: 3_600_000 }, bulk: 3 * 1024 * 1024 },
    // The growth factor ignores logs under 2 MiB.
    { mode: { kind: 'factor', growth: 0.2 }, bulk: 3 * 1024 * 1024 },
    { mode: { kind: 'modified' }, bulk: 0 },
  ];
  for (const { mode, bulk } of modes) {
    const chain = await new ChainBuilder({ compactMode: mode, syncToleranceMs: 0 }).open(`trigger-${mode.kind}`);
    const fired = compacted(chain);
    await write(chain, 5, bulk);
    const stats = await fired;
    assert.equal(stats.dropped, 4, `${mode.kind}: ${JSON.stringify(stats)}`);
    await chain.close();
  }
});

test('compactBootstrap compacts when the chain opens', async () => {
  const logPath = await mkdtemp(join(tmpdir(), 'ate-compaction-'));
  dirs.push(logPath);
  const first = await new ChainBuilder({ logPath, syncToleranceMs: 0 }).open('boot');
  await write(first, 10, 0);
  assert.equal(first.count, 10);
  await first.close();

  const again = await new ChainBuilder({ logPath, syncToleranceMs: 0, compactBootstrap: true }).open('boot');
  assert.equal(again.count, 1);
  await again.close();
});
