import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog, type LogPosition } from '../../../src/core/log/index.js';
import { LogCorruptError, LogForeignFileError, LogVersionError } from '../../../src/core/errors.js';
import { CHAIN, KEY, bytesOf, collect, event, flipByte, patchHeader, segPath, seqOf, withDir } from './helpers.js';

/** A closed log of `n` events; their positions. */
async function makeLog(path: string, n: number, opts: { segmentBytes?: number; sealKey?: Uint8Array } = {}): Promise<LogPosition[]> {
  const log = await openFileLog(path, { chainKey: CHAIN, ...opts });
  const positions = Array.from({ length: n }, (_, i) => log.append(event(i)));
  await log.close();
  return positions;
}

function isCorrupt(file: string, offset: number) {
  return (e: unknown) => {
    assert.ok(e instanceof LogCorruptError, String(e));
    assert.equal(e.file, file);
    assert.equal(e.offset, offset);
    return true;
  };
}

test('torn tail at every byte of the last record: the log keeps every complete record', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const positions = await makeLog(path, 5);
    const file = segPath(path, 0, 0);
    const original = await readFile(file);
    const lastStart = positions[4]!.offset;
    for (let cut = lastStart; cut < original.length; cut++) {
      await writeFile(file, original.subarray(0, cut));
      const torn: Array<[string, number, number]> = [];
      const log = await openFileLog(path, { chainKey: CHAIN, onTornTail: (...a) => torn.push(a) });
      assert.deepEqual(await bytesOf(log), Array.from({ length: 4 }, (_, i) => event(i)), `cut at ${cut}`);
      assert.deepEqual(torn, cut > lastStart ? [[file, lastStart, cut - lastStart]] : []);
      assert.equal((await stat(file)).size, lastStart);
      assert.equal(log.count, 4);
      // The appender goes on from the cut.
      const pos = log.append(event(9));
      assert.equal(pos.offset, lastStart);
      await log.close();
    }
  }));

test('torn seal at the end: the events stay, unsealed', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    await makeLog(path, 3, { sealKey: KEY });
    const file = segPath(path, 0, 0);
    const size = (await stat(file)).size;
    for (const cut of [size - 81 + 1, size - 40, size - 1]) {
      const original = await readFile(file);
      await truncate(file, cut);
      const log = await openFileLog(path, { chainKey: CHAIN, sealKey: KEY });
      const replayed = await collect(log);
      assert.deepEqual(replayed.map((e) => [e.bytes, e.sealed]), [0, 1, 2].map((i) => [event(i), false]));
      await log.close();
      await writeFile(file, original);
    }
  }));

test('a zero-filled tail (a crash after the size grew) is a torn tail', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    await makeLog(path, 4);
    await appendFile(segPath(path, 0, 0), Buffer.alloc(8192));
    let dropped = 0;
    const log = await openFileLog(path, { chainKey: CHAIN, onTornTail: (_f, _o, n) => (dropped = n) });
    assert.equal(dropped, 8192);
    assert.equal((await bytesOf(log)).length, 4);
    await log.close();
  }));

/** Opens and replays; rejects as the log does. */
async function openAndReplay(path: string, sealKey?: Uint8Array): Promise<void> {
  const log = await openFileLog(path, { chainKey: CHAIN, sealKey });
  try {
    await collect(log);
  } finally {
    await log.close();
  }
}

test('a flipped byte in a middle record of the appender is corruption naming file and offset', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const positions = await makeLog(path, 6);
    const file = segPath(path, 0, 0);
    const original = await readFile(file);
    const at = positions[2]!.offset;
    const len = positions[3]!.offset - at;
    for (const i of [0, 3, 4, 5, 10, len - 1]) {
      for (const sealKey of [undefined, KEY]) {
        await writeFile(file, original);
        await flipByte(file, at + i);
        // Open finds it when the framing breaks; replay when only a CRC does.
        await assert.rejects(openAndReplay(path, sealKey), isCorrupt(file, at));
        assert.equal((await readFile(file)).length, original.length, 'nothing truncated');
      }
    }
  }));

test('a flipped byte in the last record of the appender is a torn tail (documented choice)', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const positions = await makeLog(path, 6);
    await flipByte(segPath(path, 0, 0), positions[5]!.offset + 7);
    const log = await openFileLog(path, { chainKey: CHAIN });
    assert.deepEqual(await bytesOf(log), Array.from({ length: 5 }, (_, i) => event(i)));
    await log.close();
  }));

test('a flipped byte anywhere in an archive: replay fails naming file and offset', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const positions = await makeLog(path, 30, { segmentBytes: 300 });
    const inFirst = positions.filter((p) => seqOf(p) === 0);
    const file = segPath(path, 0, 0);
    const original = await readFile(file);
    for (const p of [inFirst[1]!, inFirst[inFirst.length - 1]!]) {
      for (const sealKey of [undefined, KEY]) {
        await writeFile(file, original);
        await flipByte(file, p.offset + 6);
        await assert.rejects(openAndReplay(path, sealKey), isCorrupt(file, p.offset));
      }
    }
  }));

test('an archive cut at a record boundary is corruption (fewer events than the next header says)', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const positions = await makeLog(path, 30, { segmentBytes: 300 });
    const inFirst = positions.filter((p) => seqOf(p) === 0);
    const file = segPath(path, 0, 0);
    await truncate(file, inFirst[inFirst.length - 1]!.offset);
    let log = await openFileLog(path, { chainKey: CHAIN });
    await assert.rejects(collect(log), isCorrupt(file, inFirst[inFirst.length - 1]!.offset));
    await log.close();
    await truncate(file, inFirst[1]!.offset + 3); // and mid-record
    log = await openFileLog(path, { chainKey: CHAIN });
    await assert.rejects(collect(log), isCorrupt(file, inFirst[1]!.offset));
    await log.close();
  }));

test('foreign files are LogForeignFileError', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    await makeLog(path, 3);
    const file = segPath(path, 0, 0);
    const original = await readFile(file);
    const foreign = async () => assert.rejects(openFileLog(path, { chainKey: CHAIN }), LogForeignFileError);
    await writeFile(file, randomBytes(5000));
    await foreign();
    await writeFile(file, 'just some text\nthat is not a log\n'.repeat(20));
    await foreign();
    await writeFile(file, original);
    await assert.rejects(openFileLog(path, { chainKey: 'another/chain' }), (e: unknown) => {
      assert.ok(e instanceof LogForeignFileError);
      assert.match(e.message, /test\/chain/);
      return true;
    });
    await writeFile(join(path, 'CURRENT'), 'MANIFEST-000001\n'); // e.g. a LevelDB directory
    await foreign();
    await writeFile(join(dir, 'plain'), 'x');
    await assert.rejects(openFileLog(join(dir, 'plain'), { chainKey: CHAIN }), LogForeignFileError);
  }));

test('a newer format version is LogVersionError', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    await makeLog(path, 3);
    await patchHeader(segPath(path, 0, 0), (h) => h.writeUInt16BE(2, 8));
    await assert.rejects(openFileLog(path, { chainKey: CHAIN }), (e: unknown) => {
      assert.ok(e instanceof LogVersionError);
      assert.match(e.message, /version 2/);
      return true;
    });
  }));

test('damaged CURRENT, missing CURRENT or a missing segment are corruption, and nothing is deleted', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    await makeLog(path, 20, { segmentBytes: 300 });
    const current = join(path, 'CURRENT');
    const text = await readFile(current, 'latin1');
    await writeFile(current, text.replace('ATELOG 0', 'ATELOG 1'));
    await assert.rejects(openFileLog(path, { chainKey: CHAIN }), isCorrupt(current, 0));
    await rm(current);
    await assert.rejects(openFileLog(path, { chainKey: CHAIN }), isCorrupt(current, 0));
    await writeFile(current, text);
    await rm(segPath(path, 0, 1));
    await assert.rejects(openFileLog(path, { chainKey: CHAIN }), isCorrupt(segPath(path, 0, 1), 0));
    assert.ok((await stat(segPath(path, 0, 2))).isFile());
  }));

test('a torn segment creation (crash while rotating) is dropped; the previous segment appends again', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const log0 = await openFileLog(path, { chainKey: CHAIN });
    log0.append(event(1));
    await log0.rotate();
    await log0.close();
    const file = segPath(path, 0, 1);
    const header = await readFile(file);
    for (let cut = 0; cut <= header.length; cut++) {
      const torn = Buffer.from(header.subarray(0, cut));
      if (cut === header.length) torn.fill(0, 20, 76); // the right size, but the fields never made it
      await writeFile(file, torn);
      const log = await openFileLog(path, { chainKey: CHAIN });
      assert.deepEqual(await bytesOf(log), [event(1)]);
      const pos = log.append(event(2));
      assert.equal(seqOf(pos), 0, `cut ${cut}`);
      await assert.rejects(stat(file));
      await log.close();
      assert.deepEqual(await reopened(path), [event(1), event(2)]);
      // Back to the state under test.
      await truncate(segPath(path, 0, 0), pos.offset);
    }
  }));

test('a torn first segment of a new log: the log opens empty', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    await makeLog(path, 0);
    await truncate(segPath(path, 0, 0), 30);
    const log = await openFileLog(path, { chainKey: CHAIN });
    assert.equal(log.count, 0);
    log.append(event(5));
    await log.close();
    assert.deepEqual(await reopened(path), [event(5)]);
  }));

/** The events a reopen finds. */
async function reopened(path: string): Promise<Buffer[]> {
  const log = await openFileLog(path, { chainKey: CHAIN });
  try {
    return await bytesOf(log);
  } finally {
    await log.close();
  }
}

test('read() checks the record it reads', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const positions = await makeLog(path, 5);
    const file = segPath(path, 0, 0);
    await flipByte(file, positions[2]!.offset + 12);
    const log = await openFileLog(path, { chainKey: CHAIN });
    assert.deepEqual(Buffer.from(await log.read(positions[1]!)), event(1));
    await assert.rejects(log.read(positions[2]!), isCorrupt(file, positions[2]!.offset));
    await assert.rejects(log.read({ segment: positions[2]!.segment, offset: positions[2]!.offset + 1 }), /no event record|corrupt/);
    await log.close();
  }));
