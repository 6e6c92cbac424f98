import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog } from '../../../src/core/log/index.js';
import { AteError } from '../../../src/core/errors.js';
import { CHAIN, KEY, bytesOf, collect, event, withDir } from './helpers.js';

const OPTS = { chainKey: CHAIN, sealKey: KEY, segmentBytes: 300 };
const OLD = Array.from({ length: 20 }, (_, i) => event(i));
const NEW = [event(3), event(11), event(12), event(19), event(40), event(41)];

/** The on-disk states a compaction passes through, taken from a real one. */
async function states(dir: string) {
  const path = join(dir, 'live');
  let log = await openFileLog(path, OPTS);
  OLD.forEach((e) => log.append(e));
  await log.close();
  await cp(path, join(dir, 'before'), { recursive: true });
  log = await openFileLog(path, OPTS);
  await log.rewrite(NEW, { chainKey: CHAIN, cutOff: 7 });
  await log.close();
  await cp(path, join(dir, 'after'), { recursive: true });
  const files = async (state: string) => (await readdir(join(dir, state))).filter((f) => f.endsWith('.seg')).sort();
  return { before: await files('before'), after: await files('after') };
}

/**
 * Builds a directory from files of the two states (the last one cut to `cutLast` bytes), opens it,
 * returns what it replays and which files it keeps.
 */
async function recoverFrom(dir: string, name: string, parts: Array<[state: 'before' | 'after', file: string]>, cutLast?: number) {
  const path = join(dir, name);
  await mkdir(path);
  for (const [state, file] of parts) await cp(join(dir, state, file), join(path, file));
  if (cutLast !== undefined) await truncate(join(path, parts[parts.length - 1]![1]), cutLast);
  const log = await openFileLog(path, OPTS);
  const replayed = await collect(log);
  const header = log.header;
  await log.close();
  return { events: replayed.map((e) => e.bytes), sealed: replayed.every((e) => e.sealed), header, files: (await readdir(path)).sort() };
}

test('rewrite: a crash at any step leaves the old or the new generation whole', () =>
  withDir(async (dir) => {
    const { before, after } = await states(dir);
    assert.ok(before.length > 2 && after.length > 1, 'both generations span segments');
    const old = before.map((f) => ['before', f] as ['before', string]);
    const neu = after.map((f) => ['after', f] as ['after', string]);
    const oldCurrent: ['before', string] = ['before', 'CURRENT'];
    const newCurrent: ['after', string] = ['after', 'CURRENT'];
    const oldFiles = [...before, 'CURRENT'].sort();

    // 1. The new generation is being written: some of its segments, the last one whole or cut short.
    for (let k = 1; k <= neu.length; k++) {
      const size = (await stat(join(dir, 'after', after[k - 1]!))).size;
      for (const cut of [undefined, 0, 40, size - 5]) {
        const r = await recoverFrom(dir, `writing-${k}-${cut}`, [oldCurrent, ...old, ...neu.slice(0, k)], cut);
        assert.deepEqual(r.events, OLD);
        assert.deepEqual(r.files, oldFiles, 'the unfinished generation is deleted');
      }
    }
    // 2. CURRENT.tmp written, not yet renamed.
    await cp(join(dir, 'after', 'CURRENT'), join(dir, 'after', 'CURRENT.tmp'));
    const renaming = await recoverFrom(dir, 'renaming', [oldCurrent, ...old, ...neu, ['after', 'CURRENT.tmp']]);
    assert.deepEqual(renaming.events, OLD);
    assert.deepEqual(renaming.files, oldFiles);
    // 3. CURRENT switched, the old generation not yet (or partly) deleted.
    for (let k = 0; k <= old.length; k++) {
      const r = await recoverFrom(dir, `deleting-${k}`, [newCurrent, ...old.slice(k), ...neu]);
      assert.deepEqual(r.events, NEW);
      assert.equal(r.sealed, true);
      assert.deepEqual(r.header, { chainKey: CHAIN, cutOff: 7 });
      assert.deepEqual(r.files, [...after, 'CURRENT'].sort());
    }
  }));

test('rewrite: appends while it runs go after the compacted events; old positions stay readable until the swap', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    const log = await openFileLog(path, OPTS);
    const oldPositions = OLD.map((e) => log.append(e));
    await log.flush();
    const unflushed = log.append(event(99)); // queued before the compaction, not kept by it
    const running = log.rewrite(NEW, { chainKey: CHAIN, cutOff: 0 });
    await assert.rejects(log.rewrite([], { chainKey: CHAIN, cutOff: 0 }), AteError);
    const during = [log.append(event(50)), log.append(event(51))];
    const durable = log.flush({ durable: true });
    assert.deepEqual(Buffer.from(await log.read(oldPositions[5]!)), OLD[5]);
    assert.deepEqual(Buffer.from(await log.read(unflushed)), event(99));
    assert.deepEqual(Buffer.from(await log.read(during[1]!)), event(51));
    assert.equal(log.count, NEW.length + 2);
    const positions = await running;
    await durable;
    assert.ok(during[0]!.offset > positions[positions.length - 1]!.offset || during[0]!.segment > positions[positions.length - 1]!.segment);
    await assert.rejects(log.read(oldPositions[5]!), /compacted away/);
    assert.deepEqual(Buffer.from(await log.read(during[0]!)), event(50));
    await log.close();
    const reopened = await openFileLog(path, OPTS);
    const replayed = await collect(reopened);
    assert.deepEqual(replayed.map((e) => e.bytes), [...NEW, event(50), event(51)]);
    assert.deepEqual(replayed.map((e) => e.pos), [...positions, ...during]);
    assert.ok(replayed.every((e) => e.sealed));
    await reopened.close();
    assert.deepEqual((await readdir(path)).filter((f) => f.startsWith('0000000000-')), []);
  }));

test('rewrite of an empty set leaves an empty, usable log', () =>
  withDir(async (dir) => {
    const path = join(dir, 'log');
    let log = await openFileLog(path, OPTS);
    OLD.forEach((e) => log.append(e));
    assert.deepEqual(await log.rewrite([], { chainKey: CHAIN, cutOff: 0 }), []);
    assert.equal(log.count, 0);
    assert.equal(log.size, 0);
    await log.close();
    log = await openFileLog(path, OPTS);
    assert.deepEqual(await bytesOf(log), []);
    await log.close();
    assert.equal((await readFile(join(path, 'CURRENT'), 'latin1')).split(' ')[1], '1');
  }));
