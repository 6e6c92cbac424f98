// Time travel through the real bin/atefs: `atefs log` lists a vault's history, `atefs mount --at`
// mounts it read-only as it was at a time or right after an event.
import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLine, isMounted, skipMount, withSandbox } from './helpers.js';

const opts = { skip: skipMount, timeout: 120_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) {2}([0-9a-f]{16}) {2}(\S+) +(\S+) {2}(.+)$/;

interface Line {
  time: string;
  id: string;
  op: string;
  identity: string;
  path: string;
}

function parse(stdout: string): Line[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => {
      const m = LINE.exec(l);
      assert.ok(m, `a log line: ${JSON.stringify(l)}`);
      return { time: m[1]!, id: m[2]!, op: m[3]!, identity: m[4]!, path: m[5]! };
    });
}

/** `expected` appears in `lines`, in this order (other lines may come between). */
function assertInOrder(lines: Line[], expected: Array<[string, string]>): void {
  let i = 0;
  for (const l of lines) if (i < expected.length && l.op === expected[i]![0] && l.path === expected[i]![1]) i++;
  assert.equal(i, expected.length, `missing ${JSON.stringify(expected[i])} in order, got:\n${lines.map((l) => `${l.op} ${l.path}`).join('\n')}`);
}

test('atefs log lists the operations; mount --at shows the vault as it was, read-only', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('vault');
    const file = join(mnt, 'file');

    // History: A, then (after T) B, a directory, a rename, a file created and removed.
    const m = await s.mount([mnt]);
    await writeFile(file, 'A\n');
    await sleep(50);
    const T = new Date().toISOString();
    await sleep(50);
    await writeFile(file, 'B\n');
    await mkdir(join(mnt, 'd'));
    await rename(file, join(mnt, 'd', 'file2'));
    await writeFile(join(mnt, 'gone'), 'x');
    await unlink(join(mnt, 'gone'));
    // The vault is in use: the log needs it unmounted.
    assertOneLine(await s.run(['log', mnt]), 1, /is in use by atefs .*unmount it first with: atefs umount .*atefs log needs the vault unmounted/);
    m.child.kill('SIGTERM');
    assert.equal(await m.exited, 0, m.stderr());

    const log = await s.run(['log', mnt]);
    assert.equal(log.code, 0, log.stderr);
    const lines = parse(log.stdout);
    assertInOrder(lines, [
      ['mkfs', '/'],
      ['create', '/file'],
      ['write', '/file'],
      ['write', '/file'],
      ['mkdir', '/d'],
      ['rename', '/file -> /d/file2'],
      ['create', '/gone'],
      ['unlink', '/gone'],
    ]);
    for (const l of lines) assert.match(l.identity, /^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/, 'signed by the vault key');
    assert.deepEqual([...lines.map((l) => l.time)], [...lines.map((l) => l.time)].sort(), 'oldest first');
    const writes = lines.filter((l) => l.op === 'write' && l.path === '/file');
    assert.ok(writes[0]!.time < T && writes[1]!.time > T, `the write of A before ${T}, of B after`);
    const renameLine = lines.find((l) => l.op === 'rename')!;

    // --json: the same operations with full event ids; --limit keeps the most recent.
    const json = await s.run(['log', mnt, '--json']);
    const entries = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { time: string; eventId: string; op: string; path: string; from?: string; identity: string });
    assert.deepEqual(
      entries.map((e) => [e.time, e.eventId.slice(0, 16), e.op, e.from ? `${e.from} -> ${e.path}` : e.path]),
      lines.map((l) => [l.time, l.id, l.op, l.path]),
    );
    const writeB = entries.filter((e) => e.op === 'write' && e.path === '/file')[1]!;
    assert.match(writeB.eventId, /^[0-9a-f]{64}$/);
    const limited = parse((await s.run(['log', mnt, '--limit', '2'])).stdout);
    assert.deepEqual(limited, lines.slice(-2));

    // At T: A, and no directory yet. Read-only.
    const atT = await s.mount([mnt, '--at', T]);
    assert.match(atT.summary, new RegExp(`^atefs: vault mounted at ${mnt} as it was at ${T.replace(/\./g, '\\.')} \\(.*; read-only; .*\\); Ctrl-C to unmount$`));
    assert.equal(await readFile(file, 'utf8'), 'A\n');
    assert.deepEqual(await readdir(mnt), ['file']);
    await assert.rejects(writeFile(join(mnt, 'new'), 'x'), { code: 'EROFS' });
    await assert.rejects(appendFile(file, 'more'), { code: 'EROFS' });
    await assert.rejects(mkdir(join(mnt, 'e')), { code: 'EROFS' });
    await assert.rejects(unlink(file), { code: 'EROFS' });
    atT.child.kill('SIGTERM');
    assert.equal(await atT.exited, 0, atT.stderr());
    assert.equal(await isMounted(mnt), false);

    // Right after the write of B (its full id): B, still no directory.
    const atB = await s.mount([mnt, '--at', writeB.eventId]);
    assert.match(atB.summary, new RegExp(`as it was at ${writeB.time.replace(/\./g, '\\.')} `));
    assert.equal(await readFile(file, 'utf8'), 'B\n');
    await assert.rejects(stat(join(mnt, 'd')), { code: 'ENOENT' });
    atB.child.kill('SIGTERM');
    assert.equal(await atB.exited, 0, atB.stderr());

    // Right after the rename (the 16 digits the log shows): the file moved, "gone" not made yet.
    const atRename = await s.mount([mnt, '--at', renameLine.id]);
    assert.deepEqual(await readdir(mnt), ['d']);
    assert.equal(await readFile(join(mnt, 'd', 'file2'), 'utf8'), 'B\n');
    atRename.child.kill('SIGTERM');
    assert.equal(await atRename.exited, 0, atRename.stderr());

    // The present is untouched by all of this.
    const now = await s.mount([mnt]);
    assert.deepEqual(await readdir(mnt), ['d']);
    now.child.kill('SIGTERM');
    assert.equal(await now.exited, 0, now.stderr());

    // Bad --at values: one line each, nothing mounted.
    assertOneLine(await s.run(['mount', mnt, '--at', 'ab'.repeat(32)]), 1, /event (ab){32} is not in the history of the vault at .*; atefs log .* lists its events$/);
    assertOneLine(await s.run(['mount', mnt, '--at', '0123456789abcdef']), 1, /no event id starts with these digits/);
    assertOneLine(await s.run(['mount', mnt, '--at', 'last tuesday']), 2, /--at "last tuesday" is neither a time .* nor an event id/);
    assertOneLine(
      await s.run(['mount', mnt, '--at', '2000-01-01T00:00:00Z']),
      1,
      new RegExp(`the vault at ${mnt} did not exist yet at 2000-01-01T00:00:00\\.000Z; its history starts at ${lines[0]!.time.replace(/\./g, '\\.')}$`),
    );
    assert.equal(await isMounted(mnt), false);
  }));

test('time travel and the log refuse what they cannot do: no vault, --temp, a bad --limit', () =>
  withSandbox(async (s) => {
    const empty = await s.dir('empty');
    assertOneLine(await s.run(['mount', empty, '--at', '2024-05-01T12:00:00Z']), 1, /there is no vault for .*empty .*: it has no past to travel to$/);
    assertOneLine(await s.run(['log', empty]), 1, /there is no vault for .*empty .*: it has no history$/);
    assertOneLine(await s.run(['mount', empty, '--temp', '--at', '2024-05-01']), 2, /--temp starts from an empty vault, which has no past/);
    assertOneLine(await s.run(['log', empty, '--limit', '0']), 2, /--limit takes a whole number above 0/);
    assertOneLine(await s.run(['log']), 2, /name the mount point: atefs log <mount-path>/);
    // Nothing was created for the vault that does not exist.
    const made = await readdir(join(s.data, 'ate')).catch(() => [] as string[]);
    assert.deepEqual(made.filter((n) => n.startsWith('vault-')), []);
  }));
