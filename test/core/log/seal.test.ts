import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog, openMemoryLog, type LogPosition } from '../../../src/core/log/index.js';
import { LogCorruptError } from '../../../src/core/errors.js';
import { CHAIN, KEY, collect, event, flipByte, segPath, seqOf, tamper, withDir } from './helpers.js';

const OTHER_KEY = Buffer.alloc(32, 8);

/** Three flushes of five events each, over several segments; the positions. */
async function sealedLog(path: string): Promise<LogPosition[]> {
  const log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY, segmentBytes: 400 });
  const positions: LogPosition[] = [];
  for (let f = 0; f < 3; f++) {
    for (let i = 0; i < 5; i++) positions.push(log.append(event(f * 5 + i)));
    await log.flush();
  }
  await log.close();
  return positions;
}

async function sealedFlags(path: string, sealKey?: Uint8Array): Promise<boolean[]> {
  const log = await openFileLog(path, { chainKey: CHAIN, sealKey, segmentBytes: 400 });
  try {
    const replayed = await collect(log);
    assert.deepEqual(replayed.map((e) => e.bytes), Array.from({ length: replayed.length }, (_, i) => event(i)));
    return replayed.map((e) => e.sealed);
  } finally {
    await log.close();
  }
}

test('reopened with its key every event is sealed; without it, or with another key, none is', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const positions = await sealedLog(path);
    assert.ok(new Set(positions.map(seqOf)).size > 2);
    assert.deepEqual(await sealedFlags(path, KEY), Array(15).fill(true));
    assert.deepEqual(await sealedFlags(path), Array(15).fill(false));
    assert.deepEqual(await sealedFlags(path, OTHER_KEY), Array(15).fill(false));
  }));

test('an event changed without the key (CRC recomputed): it and every later event are unsealed', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const positions = await sealedLog(path);
    const victim = positions[7]!; // in the second flush
    await tamper(segPath(path, 0, seqOf(victim)), victim.offset, 2);
    const log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY });
    const replayed = await collect(log);
    await log.close();
    assert.equal(replayed.length, 15);
    assert.notDeepEqual(replayed[7]!.bytes, event(7));
    assert.deepEqual(replayed.map((e) => e.sealed), [...Array(5).fill(true), ...Array(10).fill(false)]);
  }));

test('a seal changed without the key is not trusted; a seal with a bad CRC is corruption', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY });
    const a = [log.append(event(0)), log.append(event(1))];
    await log.flush();
    const b = [log.append(event(2))];
    await log.close();
    const sealAt = a[1]!.offset + event(1).length + 9; // the seal of the first flush
    assert.equal(sealAt, b[0]!.offset - 81);
    const file = segPath(path, 0, 0);
    await tamper(file, sealAt, 50); // inside the MAC; the later seal covers this seal's bytes too
    assert.deepEqual(await sealedFlags(path, KEY), [false, false, false]);
    await flipByte(file, sealAt + 50);
    const log2 = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY });
    await assert.rejects(collect(log2), (e: unknown) => e instanceof LogCorruptError && e.offset === sealAt);
    await log2.close();
  }));

test('events appended without the key are unsealed until a keyed writer seals after them', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    let log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY, segmentBytes: 400 });
    for (let i = 0; i < 5; i++) log.append(event(i));
    await log.close();
    // A writer without the key appends and rotates (its segment headers cannot record the chain).
    log = await openFileLog(path, { chainKey: CHAIN, segmentBytes: 400 });
    for (let i = 5; i < 20; i++) log.append(event(i));
    await log.rotate();
    log.append(event(20));
    await log.close();
    assert.deepEqual(await sealedFlags(path, KEY), [...Array(5).fill(true), ...Array(16).fill(false)]);
    // Opening with the key and closing without appending vouches for nothing.
    assert.deepEqual(await sealedFlags(path, KEY), [...Array(5).fill(true), ...Array(16).fill(false)]);
    log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY, segmentBytes: 400 });
    log.append(event(21));
    await log.close();
    assert.deepEqual(await sealedFlags(path, KEY), Array(22).fill(true));
  }));

test('a big flush is sealed every 4 MiB, and all of it replays sealed', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY });
    const big = Array.from({ length: 200 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const positions = big.map((e) => log.append(e));
    // A 4 MiB seal sits between two events: the gap shows in the positions.
    const gaps = positions.slice(1).filter((p, i) => p.offset - positions[i]!.offset > 64 * 1024 + 9).length;
    assert.equal(gaps, 3);
    await log.close();
    const reopened = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY });
    const replayed = await collect(reopened);
    await reopened.close();
    assert.deepEqual(replayed.map((e) => e.bytes), big);
    assert.ok(replayed.every((e) => e.sealed));
  }));

test('memory: flushed events are sealed with a key, unsealed without', async () => {
  const keyed = openMemoryLog({ chainKey: CHAIN, sealKey: KEY });
  const plain = openMemoryLog({ chainKey: CHAIN });
  for (const log of [keyed, plain]) {
    for (let i = 0; i < 4; i++) log.append(event(i));
    await log.flush();
  }
  assert.deepEqual((await collect(keyed)).map((e) => e.sealed), Array(4).fill(true));
  assert.deepEqual((await collect(plain)).map((e) => e.sealed), Array(4).fill(false));
});

test('a seal with a bad CRC in an archive is corruption, with or without the key', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    await sealedLog(path);
    const file = segPath(path, 0, 0);
    const sealAt = (await stat(file)).size - 81; // rotation sealed the archive's events
    await flipByte(file, sealAt + 50);
    for (const sealKey of [KEY, undefined]) {
      const log = await openFileLog(path, { chainKey: CHAIN, sealKey });
      await assert.rejects(collect(log), (e: unknown) => e instanceof LogCorruptError && e.file === file && e.offset === sealAt);
      await log.close();
    }
  }));

test('the writer goes on sealing after a replay, without one, after a partial one, and after a torn tail', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const opts = { chainKey: CHAIN, sealKey: KEY, segmentBytes: 400 };
    let log = await openFileLog(path, opts);
    let n = 0;
    for (; n < 12; n++) log.append(event(n));
    await log.close();
    const sessions: Array<(log: Awaited<ReturnType<typeof openFileLog>>) => Promise<void>> = [
      async (l) => void (await collect(l)), // the writer takes over the replay's chain
      async () => {}, // it hashes the appender itself
      async (l) => {
        for await (const _ of l.replay()) break; // a replay given up early leaves it nothing
      },
    ];
    for (const session of sessions) {
      log = await openFileLog(path, opts);
      await session(log);
      for (const end = n + 5; n < end; n++) log.append(event(n));
      await log.close();
      assert.deepEqual(await sealedFlags(path, KEY), Array(n).fill(true));
    }
    // A torn tail: the writer's chain must end where the cut is.
    const last = segPath(path, 0, (await readdir(path)).filter((f) => f.endsWith('.seg')).length - 1);
    await truncate(last, (await stat(last)).size - 3);
    log = await openFileLog(path, opts);
    for (const end = n + 2; n < end; n++) log.append(event(n));
    await log.close();
    const flags = await sealedFlags(path, KEY);
    assert.ok(flags.every((f) => f));
    assert.equal(flags.length, n);
  }));
