import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog, openMemoryLog, type RedoLog } from '../../../src/core/log/index.js';
import { AteError, ClosedError, ConfigError } from '../../../src/core/errors.js';
import { CHAIN, KEY, bytesOf, collect, event, seqOf, withDir } from './helpers.js';

const kinds: Array<[string, (dir: string, opts?: { segmentBytes?: number; sealKey?: Uint8Array }) => Promise<RedoLog>]> = [
  ['file', (dir, opts) => openFileLog(join(dir, 'log'), { chainKey: CHAIN, ...opts })],
  ['memory', async (_dir, opts) => openMemoryLog({ chainKey: CHAIN, ...opts })],
];

for (const [kind, openLog] of kinds) {
  test(`${kind}: append, flush, replay round trip with positions and read()`, () =>
    withDir(async (dir) => {
      const log = await openLog(dir);
      const events = Array.from({ length: 50 }, (_, i) => event(i));
      const positions = events.map((e) => log.append(e));
      assert.equal(log.count, 50);
      assert.equal(log.size, events.reduce((n, e) => n + e.length + 9, 0));
      // Readable before the flush, from the write buffer.
      assert.deepEqual(Buffer.from(await log.read(positions[7]!)), events[7]);
      await log.flush();
      const replayed = await collect(log);
      assert.deepEqual(replayed.map((e) => e.bytes), events);
      assert.deepEqual(replayed.map((e) => e.pos), positions);
      for (const i of [0, 13, 49]) assert.deepEqual(Buffer.from(await log.read(positions[i]!)), events[i]);
      await log.close();
    }));

  test(`${kind}: rotation keeps archives, replayed in order and readable`, () =>
    withDir(async (dir) => {
      const log = await openLog(dir, { segmentBytes: 400 });
      const events = Array.from({ length: 40 }, (_, i) => event(i));
      const positions = events.slice(0, 20).map((e) => log.append(e));
      await log.rotate();
      positions.push(...events.slice(20).map((e) => log.append(e)));
      await log.flush({ durable: true });
      const seqs = new Set(positions.map(seqOf));
      assert.ok(seqs.size > 5, `expected several segments, got ${seqs.size}`);
      assert.deepEqual(await bytesOf(log), events);
      for (let i = 0; i < events.length; i += 3) assert.deepEqual(Buffer.from(await log.read(positions[i]!)), events[i]);
      await log.close();
    }));

  test(`${kind}: closed log refuses calls with ClosedError`, () =>
    withDir(async (dir) => {
      const log = await openLog(dir);
      const pos = log.append(event(1));
      await log.close();
      await log.close(); // idempotent
      assert.throws(() => log.append(event(2)), ClosedError);
      await assert.rejects(log.flush(), ClosedError);
      await assert.rejects(log.read(pos), ClosedError);
    }));

  test(`${kind}: rewrite swaps in exactly the given events`, () =>
    withDir(async (dir) => {
      const log = await openLog(dir, { segmentBytes: 500, sealKey: KEY });
      const old = Array.from({ length: 30 }, (_, i) => log.append(event(i)));
      await log.flush();
      const kept = [event(3), event(17), event(29)];
      const positions = await log.rewrite(kept, { chainKey: CHAIN, cutOff: 1234 });
      assert.equal(log.count, 3);
      assert.deepEqual(log.header, { chainKey: CHAIN, cutOff: 1234 });
      assert.deepEqual((await collect(log)).map((e) => [e.bytes, e.pos, e.sealed]), kept.map((e, i) => [e, positions[i], true]));
      for (const [i, p] of positions.entries()) assert.deepEqual(Buffer.from(await log.read(p)), kept[i]);
      // A position from before the compaction is refused, never answered with another event.
      await assert.rejects(log.read(old[0]!), /compacted away/);
      const after = log.append(event(100));
      assert.deepEqual(Buffer.from(await log.read(after)), event(100));
      assert.deepEqual(await bytesOf(log), [...kept, event(100)]);
      await log.close();
    }));

  test(`${kind}: bad arguments are ConfigErrors`, () =>
    withDir(async (dir) => {
      await assert.rejects(async () => openLog(dir, { sealKey: Buffer.alloc(16) }), ConfigError);
      await assert.rejects(async () => openLog(dir, { segmentBytes: 0 }), ConfigError);
      const log = await openLog(dir);
      await assert.rejects(log.rewrite([], { chainKey: 'other', cutOff: 0 }), ConfigError);
      await assert.rejects(log.rewrite([], { chainKey: CHAIN, cutOff: -1 }), ConfigError);
      await log.close();
    }));
}

test('file: reopen after close keeps events, positions, count and size', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    let log = await openFileLog(path, { chainKey: CHAIN, segmentBytes: 1000 });
    const events = Array.from({ length: 60 }, (_, i) => event(i));
    const positions = events.map((e) => log.append(e));
    const { count, size } = log;
    await log.close();
    log = await openFileLog(path, { chainKey: CHAIN, segmentBytes: 1000 });
    assert.equal(log.count, count);
    assert.equal(log.size, size);
    const replayed = await collect(log);
    assert.deepEqual(replayed.map((e) => e.bytes), events);
    assert.deepEqual(replayed.map((e) => e.pos), positions);
    assert.deepEqual(Buffer.from(await log.read(positions[42]!)), events[42]);
    // Appends continue where the log ended.
    const more = log.append(event(60));
    await log.close();
    log = await openFileLog(path, { chainKey: CHAIN, segmentBytes: 1000 });
    assert.deepEqual(await bytesOf(log), [...events, event(60)]);
    assert.deepEqual(Buffer.from(await log.read(more)), event(60));
    await log.close();
  }));

test('file: create false on a missing log says it does not exist', () =>
  withDir(async (dir) => {
    await assert.rejects(openFileLog(join(dir, 'nope'), { chainKey: CHAIN, create: false }), (e: unknown) => {
      assert.ok(e instanceof AteError);
      assert.match(e.message, /does not exist/);
      return true;
    });
    assert.deepEqual(await readdir(dir), []);
  }));

test('file: truncate starts empty in a new generation', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    let log = await openFileLog(path, { chainKey: CHAIN });
    log.append(event(1));
    await log.close();
    log = await openFileLog(path, { chainKey: CHAIN, truncate: true, cutOff: 99 });
    assert.equal(log.count, 0);
    assert.equal(log.header.cutOff, 99);
    assert.deepEqual(await bytesOf(log), []);
    log.append(event(2));
    await log.close();
    assert.deepEqual((await readdir(path)).sort(), ['0000000001-0000000000.seg', 'CURRENT']);
    log = await openFileLog(path, { chainKey: CHAIN });
    assert.deepEqual(await bytesOf(log), [event(2)]);
    await log.close();
  }));

test('file: destroy deletes the files', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const log = await openFileLog(path, { chainKey: CHAIN });
    log.append(event(1));
    await log.destroy();
    assert.deepEqual(await readdir(dir), []);
  }));

test('file: empty and large events round trip, oversized ones are refused', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    let log = await openFileLog(path, { chainKey: CHAIN });
    const big = Buffer.alloc(9 * 1024 * 1024, 3); // larger than a replay chunk
    const events = [Buffer.alloc(0), big, event(1)];
    const positions = events.map((e) => log.append(e));
    assert.throws(() => log.append(new Uint8Array(64 * 1024 * 1024 + 1)), ConfigError);
    await log.close();
    log = await openFileLog(path, { chainKey: CHAIN });
    assert.deepEqual(await bytesOf(log), events);
    assert.deepEqual(Buffer.from(await log.read(positions[1]!)), big);
    await log.close();
  }));

test('file: read() of records of changing sizes, in and out of order (its first read follows the last size)', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    let log = await openFileLog(path, { chainKey: CHAIN });
    const sizes = [10, 131_072, 131_072, 300, 2_000_000, 5, 131_072, 70_000, 1];
    const events = sizes.map((n, i) => Buffer.alloc(n, i + 1));
    const positions = events.map((e) => log.append(e));
    await log.close();
    log = await openFileLog(path, { chainKey: CHAIN });
    for (const order of [[0, 1, 2, 3, 4, 5, 6, 7, 8], [8, 4, 5, 1, 0, 7, 2, 6, 3]]) {
      for (const i of order) assert.deepEqual(Buffer.from(await log.read(positions[i]!)), events[i], `event ${i}`);
    }
    await log.close();
  }));

test('file: records cut by a read-chunk boundary at any byte of their framing replay whole', () =>
  withDir(async (dir) => {
    const chunk = 4 * 1024 * 1024;
    for (const sealKey of [undefined, KEY]) {
      for (const split of [1, 4, 5, 8, 12]) {
        const path = join(dir, `log-${split}-${sealKey ? 'k' : 'p'}`);
        let log = await openFileLog(path, { chainKey: CHAIN, sealKey });
        const header = log.append(Buffer.alloc(0)).offset; // the first record sits right after the header
        // The second record starts `split` bytes before the end of the first 4 MiB read.
        const events = [Buffer.alloc(0), Buffer.alloc(chunk - split - 9 - 9, 1), event(2), Buffer.alloc(5000, 3), event(4)];
        events.slice(1).forEach((e) => log.append(e));
        await log.close();
        log = await openFileLog(path, { chainKey: CHAIN, sealKey });
        const replayed = await collect(log);
        assert.equal(replayed[2]!.pos.offset, header + chunk - split);
        assert.deepEqual(replayed.map((e) => e.bytes), events);
        assert.ok(replayed.every((e) => e.sealed === (sealKey !== undefined)));
        await log.destroy();
      }
    }
  }));
