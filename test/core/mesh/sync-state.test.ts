import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StateSaver, type SyncState, loadSyncState } from '../../../src/core/mesh/client/sync-state.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const stateAt = (next: number): SyncState => ({ epoch: 'e1', next, mark: next, integrity: 'distributed', rootKeys: [] });

test('the sync state is written only after the replica is durable up to what it claims', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ate-sync-state-'));
  dirs.push(dir);
  const path = join(dir, 'db.sync');
  let next = 10;
  let release!: () => void;
  const durableCalls: number[] = [];
  const saver = new StateSaver(
    path,
    () => stateAt(next),
    () => {
      durableCalls.push(next);
      return new Promise<void>((r) => (release = r));
    },
    (err) => assert.fail(String(err)),
  );
  saver.save();
  const flushed = saver.flush();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(durableCalls, [10], 'the replica is made durable for the state taken before');
  assert.equal(await loadSyncState(path), undefined, 'nothing is written while the replica is not durable');
  // Events arriving meanwhile are not claimed by this save: their fdatasync may not cover them.
  next = 20;
  release();
  await flushed;
  assert.equal((await loadSyncState(path))?.next, 10);

  saver.save();
  const second = saver.flush();
  await new Promise((r) => setTimeout(r, 10));
  release();
  await second;
  assert.equal(JSON.parse(await readFile(path, 'utf8')).next, 20);
});

test('a replica that cannot be made durable keeps its old state', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ate-sync-state-'));
  dirs.push(dir);
  const path = join(dir, 'db.sync');
  const errors: string[] = [];
  let fail = false;
  const saver = new StateSaver(
    path,
    () => stateAt(fail ? 99 : 5),
    async () => {
      if (fail) throw new Error('disk full');
    },
    (err) => errors.push((err as Error).message),
  );
  saver.save();
  await saver.flush();
  fail = true;
  saver.save();
  await saver.flush();
  assert.deepEqual(errors, ['disk full']);
  assert.equal((await loadSyncState(path))?.next, 5);
});
