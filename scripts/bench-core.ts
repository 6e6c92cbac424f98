// The core engine's benchmark (issue 3). Prints figures and ratios against hypercore measured in
// the same run, on the same machine, with the same payloads. Not a test: nothing here asserts time.
//
//   node dist/scripts/bench-core.js [--events 1000000] [--rounds 10] [--dir /tmp/...] [--skip append,durable,reopen,hypercore]
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Hypercore from 'hypercore';
import {
  ChainBuilder,
  Dio,
  type Chain,
  type CollectionId,
  type PrimaryKey,
  generateSignKey,
  generateSymmetricKey,
  publicSignKey,
  userSession,
} from '../src/core/index.js';
import { positive, scriptArgs } from './args.js';

const values = scriptArgs('node dist/scripts/bench-core.js [--events 1000000] [--rounds 10] [--dir /tmp/...] [--skip append,durable,reopen,hypercore]', {
  events: { type: 'string', default: '1000000' },
  dir: { type: 'string' },
  skip: { type: 'string', default: '' },
  rounds: { type: 'string', default: '10' },
});
const TOTAL = positive('events', values.events);
const ROUNDS = positive('rounds', values.rounds);
const BATCH = 100;
const PAYLOAD = 1024;
const skip = new Set(values.skip!.split(',').filter(Boolean));

const signKey = generateSignKey('ml-dsa-65');
const readKey = generateSymmetricKey();
const session = userSession({ writeKeys: [signKey], readKeys: [readKey] });
// From node's buffer pool (Buffer.alloc makes a fresh ArrayBuffer each time: about 5 us, which
// both sides paid and which measured the harness rather than the stores).
const payload = (i: number): Buffer => {
  const b = Buffer.allocUnsafe(PAYLOAD).fill(i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
};

const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000));
const fmt = (n: number): string => n.toLocaleString('en-US');
/** CPU time of every thread of this process since `from`, in ms: steadier than wall time on a shared machine. */
const cpuSince = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};
const perEvent = (cpuMs: number): string => `${((cpuMs * 1000) / TOTAL).toFixed(1)} us/event`;

function builder(logPath: string): ChainBuilder {
  return new ChainBuilder({ logPath }).addRootPublicKey(publicSignKey(signKey)).setSession(session);
}

/** One encrypted folder: every event of the benchmark is a child of it, encrypted with its data key. */
async function folder(chain: Chain): Promise<{ parent: PrimaryKey; collection: CollectionId }> {
  const dio = new Dio(chain, session);
  const dao = dio.store({ name: 'bench' }, { readers: [{ kind: 'symmetric', key: readKey }] });
  await dio.commit();
  return { parent: dao.key, collection: 1 as CollectionId };
}

/** Appends events [from, to) to one side, timed; both sides take their turns in the same rounds. */
interface Appender {
  append(from: number, to: number): Promise<void>;
  ms: number;
  cpuMs: number;
}

async function timed(side: Appender, from: number, to: number): Promise<void> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  await side.append(from, to);
  side.ms += performance.now() - start;
  side.cpuMs += cpuSince(cpu);
}

async function oursAppender(dir: string): Promise<Appender & { awaitedMs(): Promise<number>; close(): Promise<void> }> {
  const b = builder(dir);
  const chain = await b.open('bench');
  const parent = await folder(chain);
  const under = { parent: { key: parent.parent, collection: parent.collection } };
  const commit = (from: number, scope: 'none' | 'full'): Promise<void> => {
    const dio = new Dio(chain, session, scope);
    for (let i = from; i < from + BATCH; i++) dio.store(payload(i), under);
    return dio.commit();
  };
  return {
    ms: 0,
    cpuMs: 0,
    async append(from, to) {
      const inflight: Promise<void>[] = [];
      for (let i = from; i < to; i += BATCH) {
        inflight.push(commit(i, 'none'));
        // Issued without waiting for each other; yield now and then so timers and the signer run.
        if (inflight.length >= 64) await Promise.all(inflight.splice(0));
      }
      await Promise.all(inflight);
      await chain.sync();
    },
    async awaitedMs() {
      const samples: number[] = [];
      for (let r = 0; r < 20; r++) {
        const t = performance.now();
        await commit(0, 'full');
        samples.push(performance.now() - t);
      }
      return samples.sort((x, y) => x - y)[samples.length >> 1]!;
    },
    close: () => b.close(),
  };
}

async function hypercoreAppender(dir: string): Promise<Appender & { close(): Promise<void> }> {
  const core = new Hypercore(join(dir, 'hypercore'));
  await core.ready();
  return {
    ms: 0,
    cpuMs: 0,
    async append(from, to) {
      for (let i = from; i < to; i += BATCH) {
        const batch: Buffer[] = [];
        for (let j = i; j < i + BATCH; j++) batch.push(payload(j));
        await core.append(batch);
      }
    },
    close: () => core.close(),
  };
}

async function durableWriters(dir: string, writers: number, seconds: number): Promise<number> {
  const b = builder(dir);
  const chain = await b.open('durable');
  const parent = await folder(chain);
  let commits = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < until; i++) {
        const dio = new Dio(chain, session, 'full');
        dio.store(payload(w * 1_000_000 + i), { parent: { key: parent.parent, collection: parent.collection } });
        await dio.commit();
        commits++;
      }
    }),
  );
  const elapsed = seconds * 1000 + (performance.now() - until);
  await b.close();
  return rate(commits, elapsed);
}

/** Median time of one 1 KiB write plus fdatasync in `dir`: what every durable commit waits for at least. */
async function fdatasyncMs(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const file = await open(join(dir, 'fdatasync-probe'), 'w');
  const samples: number[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      await file.write(payload(i));
      await file.datasync();
      samples.push(performance.now() - t);
    }
  } finally {
    await file.close();
  }
  return samples.sort((a, b) => a - b)[samples.length >> 1]!;
}

async function reopenOurs(dir: string): Promise<{ ms: number; cpuMs: number; count: number; heapPerEvent: number }> {
  // Let the closed chains' last timers run out first, or their views are counted as freed.
  await new Promise((r) => setTimeout(r, 200));
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = performance.now();
  const cpu = process.cpuUsage();
  const b = builder(dir);
  const chain = await b.open('bench');
  const ms = performance.now() - start;
  const cpuMs = cpuSince(cpu);
  global.gc?.();
  const heapPerEvent = (process.memoryUsage().heapUsed - heapBefore) / chain.count;
  const count = chain.count;
  await b.close();
  return { ms, cpuMs, count, heapPerEvent };
}

/** Reopen plus one pass over every block: what rebuilding a view over hypercore would need. */
async function reopenHypercore(dir: string): Promise<{ ms: number; count: number }> {
  const start = performance.now();
  const core = new Hypercore(join(dir, 'hypercore'));
  await core.ready();
  let count = 0;
  for await (const block of core.createReadStream()) count += block.length > 0 ? 1 : 0;
  const ms = performance.now() - start;
  await core.close();
  return { ms, count };
}

const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'ate-bench-core-')));
try {
  console.log(`bench-core: ${fmt(TOTAL)} events of ${PAYLOAD} B, commits of ${BATCH}, in ${dir}`);
  const withHypercore = !skip.has('hypercore');
  // --skip append with --dir reopens the logs an earlier run left there (to profile one phase).
  if (!skip.has('append')) {
    // Ours and hypercore take turns, a slice each per round: the load of a shared machine drifts
    // within seconds, and alternating puts both sides under the same drift.
    const ours = await oursAppender(join(dir, 'ours'));
    const hc = withHypercore ? await hypercoreAppender(dir) : undefined;
    const slice = Math.ceil(TOTAL / ROUNDS / BATCH) * BATCH;
    for (let from = 0; from < TOTAL; from += slice) {
      const to = Math.min(TOTAL, from + slice);
      await timed(ours, from, to);
      if (hc) await timed(hc, from, to);
    }
    const oursRate = rate(TOTAL, ours.ms);
    console.log(`append (ours):      ${fmt(oursRate)} events/s, signed and encrypted (${(ours.ms / 1000).toFixed(1)} s, CPU ${perEvent(ours.cpuMs)})`);
    if (hc) {
      const hcRate = rate(TOTAL, hc.ms);
      console.log(`append (hypercore): ${fmt(hcRate)} events/s (CPU ${perEvent(hc.cpuMs)})`);
      console.log(`ratio ours/hypercore, append: ${(oursRate / hcRate).toFixed(2)} (${ROUNDS} alternating rounds)`);
      await hc.close();
    }
    console.log(`awaited commit of ${BATCH} events (durable), median: ${(await ours.awaitedMs()).toFixed(2)} ms`);
    await ours.close();
  }
  if (!skip.has('durable')) {
    const commits = await durableWriters(join(dir, 'durable'), 16, 5);
    const syncMs = await fdatasyncMs(join(dir, 'durable'));
    // Each writer waits for an fdatasync per commit: 16 of them sharing every one is the ceiling.
    console.log(`durable commits, 16 writers: ${fmt(commits)} commits/s (one fdatasync takes ${syncMs.toFixed(2)} ms here: 16 writers sharing each top out at ${fmt(rate(16, syncMs))}/s)`);
  }
  if (!skip.has('reopen')) {
    // Twice each, alternating, for the same reason; the better of the two runs counts for each side.
    let ours: Awaited<ReturnType<typeof reopenOurs>> | undefined;
    let hcMs = Infinity;
    let hcCount = 0;
    for (let r = 0; r < 2; r++) {
      const o = await reopenOurs(join(dir, 'ours'));
      if (!ours || o.ms < ours.ms) ours = o;
      if (withHypercore) {
        const h = await reopenHypercore(dir);
        if (h.ms < hcMs) (hcMs = h.ms), (hcCount = h.count);
      }
    }
    const reopenRate = rate(ours!.count, ours!.ms);
    const cpuPerEvent = ((ours!.cpuMs * 1000) / ours!.count).toFixed(2);
    console.log(`reopen (ours):      ${fmt(reopenRate)} events/s (${fmt(ours!.count)} events in ${(ours!.ms / 1000).toFixed(2)} s, CPU ${cpuPerEvent} us/event), view heap ${ours!.heapPerEvent.toFixed(0)} B/event`);
    if (withHypercore) {
      const hcRate = rate(hcCount, hcMs);
      console.log(`reopen+read (hypercore): ${fmt(hcRate)} events/s`);
      console.log(`ratio ours/hypercore, reopen: ${(reopenRate / hcRate).toFixed(2)}`);
    }
  }
} finally {
  if (!values.dir) await rm(dir, { recursive: true, force: true });
}
