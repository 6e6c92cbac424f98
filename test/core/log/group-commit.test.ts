import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openFileLog, openMemoryLog } from '../../../src/core/log/index.js';
import { CHAIN, KEY, bytesOf, event, withDir } from './helpers.js';

test('16 concurrent durable flushers all resolve and share fdatasyncs', () =>
  withDir(async (dir) => {
    const log = await openFileLog(join(dir, 'log'), { chainKey: CHAIN, sealKey: KEY });
    const writers = 16;
    const rounds = 40;
    const syncs = log.stats.syncs;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < rounds; i++) {
          log.append(event(w * 1000 + i));
          await log.flush({ durable: true });
        }
      }),
    );
    const flushes = writers * rounds;
    const used = log.stats.syncs - syncs;
    assert.ok(used <= flushes / 4, `${used} fdatasyncs for ${flushes} durable flushes`);
    const replayed = (await bytesOf(log)).map((b) => b.toString('latin1', 0, 12));
    assert.equal(replayed.length, flushes);
    for (let w = 0; w < writers; w++) {
      const mine = replayed.filter((s) => Math.floor(Number(/event (\d+);/.exec(s)![1]) / 1000) === w);
      assert.deepEqual(mine, Array.from({ length: rounds }, (_, i) => event(w * 1000 + i).toString('latin1', 0, 12)));
    }
    await log.close();
  }));

test('a durable flush waits for its own fdatasync; a plain one syncs nothing', () =>
  withDir(async (dir) => {
    const log = await openFileLog(join(dir, 'log'), { chainKey: CHAIN });
    const pos = log.append(event(1));
    const before = { ...log.stats };
    const plain = log.flush(); // starts the write
    // Readable while the write is in flight.
    assert.deepEqual(Buffer.from(await log.read(pos)), event(1));
    const durable = log.flush({ durable: true }); // nothing new to write, but not yet synced
    await Promise.all([plain, durable]);
    assert.equal(log.stats.writes - before.writes, 1);
    assert.equal(log.stats.syncs - before.syncs, 1);
    await log.flush({ durable: true }); // already synced: free
    await log.flush();
    assert.equal(log.stats.syncs - before.syncs, 1);
    log.append(event(2));
    await log.flush();
    assert.equal(log.stats.syncs - before.syncs, 1);
    await log.close();
  }));

test('many appends then one flush are one write', async () => {
  const log = openMemoryLog({ chainKey: CHAIN });
  for (let i = 0; i < 1000; i++) log.append(event(i));
  await log.flush();
  assert.equal(log.stats.writes, 2); // the first segment's header, then the records
  await log.close();
});
