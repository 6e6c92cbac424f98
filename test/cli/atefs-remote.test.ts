// Remote mounts: `atefs mount <dir> tcp://host:port/<chain>` against a real `atedb --no-auth`,
// opened by passcode. Two mounts of one chain in two processes see each other's changes; a mount
// keeps serving its local replica while the server is down.
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAtedb } from '../server/helpers.js';
import { type Mount, assertOneLine, skipMount, waitFor, withSandbox } from './helpers.js';

const PASSCODE = 'correct horse battery staple';

async function readOr(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/** Milliseconds until `path` reads `content` (polled), failing after `ms`. */
async function visibleAfter(path: string, content: string, ms = 10_000): Promise<number> {
  const t0 = Date.now();
  await waitFor(async () => (await readOr(path)) === content, ms, `${path} to read ${JSON.stringify(content)}`);
  return Date.now() - t0;
}

async function stop(m: Mount): Promise<void> {
  m.child.kill('SIGTERM');
  assert.equal(await m.exited, 0, m.stderr());
}

test('two remote mounts of one chain see each other\'s changes', { skip: skipMount }, () =>
  withSandbox(async (s) => {
    const db = await startAtedb();
    const url = `tcp://127.0.0.1:${db.port}/example.com/joe/shared`;
    const [d1, d2] = [await s.dir('one'), await s.dir('two')];
    const one = await s.mount([d1, url, '--passcode', PASSCODE]);
    assert.match(one.summary, /new vault mounted at/);
    const two = await s.mount([d2, url, '--passcode', PASSCODE]);
    assert.match(two.summary, /vault mounted at .*server tcp:\/\/127\.0\.0\.1/);

    // Rounds alternate between the mounts: new files, and overwrites of a file the reader has
    // cached (kernel page cache, inode cache), with sizes that grow and shrink. Remote changes that
    // arrive while the reader is loading the same inode once left it stale for good.
    const dirs = [d1, d2];
    const delays: number[] = [];
    for (let round = 0; round < 24; round++) {
      const [writer, reader] = round % 2 === 0 ? [0, 1] : [1, 0];
      const name = round % 4 === 3 ? `new-${round}.txt` : 'note.txt';
      const content = `round ${round} ${'x'.repeat((round * 7) % 23)}`;
      await writeFile(join(dirs[writer]!, name), content);
      delays.push(await visibleAfter(join(dirs[reader]!, name), content));
    }
    // The issue asks for 2 s; the figures are reported, the limit above only catches a broken sync.
    delays.sort((a, b) => a - b);
    process.stdout.write(`# remote change visible after ${delays[delays.length >> 1]} ms (median), ${delays[delays.length - 1]} ms (max) over ${delays.length} rounds\n`);
    assert.deepEqual((await readdir(d1)).sort(), (await readdir(d2)).sort());
    assert.equal((await readdir(d1)).length, 7);

    await stop(one);
    await stop(two);
  }));

test('a remote mount serves its replica while the server is down, and catches up after', { skip: skipMount }, () =>
  withSandbox(async (s) => {
    const db = await startAtedb();
    const url = `tcp://127.0.0.1:${db.port}/example.com/joe/resilient`;
    const [d1, d2] = [await s.dir('one'), await s.dir('two')];
    const one = await s.mount([d1, url, '--passcode', PASSCODE, '--recovery-mode', 'async']);
    await writeFile(join(d1, 'kept.txt'), 'on the server');
    const two = await s.mount([d2, url, '--passcode', PASSCODE]);
    await visibleAfter(join(d2, 'kept.txt'), 'on the server');

    await db.stop('SIGTERM');
    await waitFor(() => /lost the connection/.test(one.stderr()), 20_000, 'the mount to notice');
    assert.equal(await readFile(join(d1, 'kept.txt'), 'utf8'), 'on the server', 'reads come from the local replica');
    assert.equal(await readFile(join(d2, 'kept.txt'), 'utf8'), 'on the server');
    // Recovery mode async: writes go on offline and are uploaded later.
    await writeFile(join(d1, 'offline.txt'), 'written offline');
    // The default (readonly-async) refuses writes while disconnected.
    await assert.rejects(writeFile(join(d2, 'refused.txt'), 'no'), (err: NodeJS.ErrnoException) => ['EROFS', 'EACCES', 'EIO', 'EPERM'].includes(err.code ?? ''));

    await startAtedb({ port: db.port, logs: db.logs });
    await visibleAfter(join(d2, 'offline.txt'), 'written offline', 30_000);
    await stop(one);
    await stop(two);
  }));

test('a wrong passcode for a remote vault: one line, exit code 1, nothing mounted', { skip: skipMount }, () =>
  withSandbox(async (s) => {
    const db = await startAtedb();
    const url = `tcp://127.0.0.1:${db.port}/example.com/joe/locked`;
    const d1 = await s.dir('one');
    await stop(await s.mount([d1, url, '--passcode', PASSCODE]));
    const d2 = await s.dir('two');
    assertOneLine(await s.run(['mount', d2, url, '--passcode', 'not the passcode at all']), 1, /wrong passcode for the vault at/);
    assertOneLine(await s.run(['mount', d2, `tcp://127.0.0.1:${db.port}/no..dots`, '--passcode', PASSCODE]), 1, /refused .*'\.\.' and '~' are not allowed/);
  }));
