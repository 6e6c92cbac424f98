import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { detach } from '../../src/fs/detach.js';
import { mountAt } from '../../src/fs/mount-table.js';
import { mountFixture } from './helpers.js';

test('detach removes a live mount and waits until the mount table no longer lists it', async () => {
  const fx = await mountFixture({}, 'atefs-detach');
  try {
    await writeFile(join(fx.mnt, 'f'), 'kept');
    assert.ok(await mountAt(fx.mnt), 'mounted');
    await detach(fx.mnt);
    assert.equal(await mountAt(fx.mnt), undefined);
    // The volume goes on; a remount shows what was written before the detach.
    await fx.remount();
    assert.equal(await readFile(join(fx.mnt, 'f'), 'utf8'), 'kept');
  } finally {
    await fx.cleanup();
  }
});

test('detach of a directory that is not mounted has nothing to do', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atefs-detach-none-'));
  try {
    await detach(dir);
    await detach(join(dir, 'missing'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unmount after the mount was detached from outside still ends cleanly', async () => {
  const fx = await mountFixture({}, 'atefs-detach-outside');
  try {
    await detach(fx.mnt);
    await fx.fs.unmount();
    assert.equal(await mountAt(fx.mnt), undefined);
  } finally {
    await fx.cleanup();
  }
});
