// Real tools on a real mount: cp -a, tar c and x, diff -r, git, sqlite3 (WAL), rsync -a.
// A tool that is not installed is skipped with a message naming its Debian package.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Fixture, have, mountFixture, py, shOk } from './helpers.js';

let fx: Fixture;
let src: string;

const TREE = String.raw`
import os, sys, random
root = sys.argv[1]
rnd = random.Random(42)
os.makedirs(root)
for d in range(6):
    dd = os.path.join(root, 'dir%d' % d, 'sub%d' % (d % 3))
    os.makedirs(dd)
    for f in range(25):
        size = rnd.choice([0, 1, 100, 4095, 4096, 70000, 131072, 131073, 400000])
        with open(os.path.join(dd, 'f%d.bin' % f), 'wb') as h:
            h.write(rnd.randbytes(size))
with open(os.path.join(root, 'big.bin'), 'wb') as h:
    h.write(rnd.randbytes(3 * 1024 * 1024 + 17))
with open(os.path.join(root, 'sparse.bin'), 'wb') as h:
    h.seek(2 * 1024 * 1024); h.write(b'tail')
os.symlink('dir0/sub0/f1.bin', os.path.join(root, 'link'))
os.symlink('nowhere', os.path.join(root, 'dangling'))
os.link(os.path.join(root, 'big.bin'), os.path.join(root, 'big.hard'))
os.chmod(os.path.join(root, 'dir1'), 0o700)
os.chmod(os.path.join(root, 'big.bin'), 0o640)
os.utime(os.path.join(root, 'big.bin'), (1500000000, 1600000000))
os.setxattr(os.path.join(root, 'big.bin'), 'user.note', b'kept')
print('{}')
`;

before(async () => {
  fx = await mountFixture({}, 'atefs-tools');
  src = `${fx.dir}/src`;
  await py(TREE, [src]);
});

after(async () => {
  await fx?.cleanup();
});

async function skipUnless(t: { skip(msg: string): void }, tool: string, pkg: string): Promise<boolean> {
  if (await have(tool)) return false;
  t.skip(`${tool} is not installed (Debian package ${pkg}); install it to run this test`);
  return true;
}

test('cp -a copies a tree; diff -r finds no difference; modes, times, links and xattrs survive', async (t) => {
  if (await skipUnless(t, 'diff', 'diffutils')) return;
  const m = fx.mnt;
  await shOk(`cp -a ${src} ${m}/cp && diff -r --no-dereference ${src} ${m}/cp`);
  const meta = await shOk(
    `cd ${m}/cp && stat -c '%a %Y %h' big.bin && stat -c '%a' dir1 && readlink link && stat -c '%i' big.bin big.hard | uniq | wc -l && getfattr --only-values -n user.note big.bin 2>/dev/null || echo noattr`,
  );
  const lines = meta.trim().split('\n');
  assert.equal(lines[0], '640 1600000000 2');
  assert.equal(lines[1], '700');
  assert.equal(lines[2], 'dir0/sub0/f1.bin');
  assert.equal(lines[3], '1', 'the hard link shares its inode number');
  if (lines[4] !== 'noattr') assert.equal(lines[4], 'kept');
});

test('tar c and x through the mount, both ways', async (t) => {
  if (await skipUnless(t, 'tar', 'tar')) return;
  const m = fx.mnt;
  await shOk(`mkdir ${m}/tarx && tar -C ${src} -cf - . | tar -C ${m}/tarx -xf - && diff -r --no-dereference ${src} ${m}/tarx`);
  await shOk(`mkdir ${fx.dir}/back && tar -C ${m}/tarx -cf ${m}/t.tar . && tar -C ${fx.dir}/back -xf ${m}/t.tar && diff -r --no-dereference ${src} ${fx.dir}/back`);
});

test('rsync -a copies a tree, and a second run finds nothing to do', async (t) => {
  if (await skipUnless(t, 'rsync', 'rsync')) return;
  const m = fx.mnt;
  await shOk(`rsync -a ${src}/ ${m}/rs/ && diff -r --no-dereference ${src} ${m}/rs`);
  const again = await shOk(`rsync -a -i ${src}/ ${m}/rs/`);
  assert.equal(again.trim(), '', `second rsync transferred: ${again}`);
  await shOk(`rsync -a --delete ${m}/rs/ ${fx.dir}/rsback/ && diff -r --no-dereference ${src} ${fx.dir}/rsback`);
});

test('git init, add, commit, log and fsck in a repository on the mount', async (t) => {
  if (await skipUnless(t, 'git', 'git')) return;
  const m = fx.mnt;
  const out = await shOk(
    `set -e; cd ${m} && git init -q repo && cd repo && cp -r ${src}/dir0 . && echo hello > README && git add -A && ` +
      `git -c user.name=t -c user.email=t@e commit -q -m first && echo more >> README && git -c user.name=t -c user.email=t@e commit -q -am second && ` +
      `git log --oneline | wc -l && git status --porcelain | wc -l && git fsck --strict 2>&1 | grep -v '^Checking' | wc -l && git gc -q && git log --oneline | wc -l`,
  );
  assert.deepEqual(out.trim().split('\n'), ['2', '0', '0', '2']);
});

test('sqlite3 with a WAL database: create, 1000 inserts, count, integrity check', async (t) => {
  if (await skipUnless(t, 'sqlite3', 'sqlite3')) return;
  const m = fx.mnt;
  const sql = [
    'PRAGMA journal_mode=WAL;',
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);',
    'BEGIN;',
    ...Array.from({ length: 1000 }, (_, i) => `INSERT INTO t (v) VALUES ('row ${i} ${'x'.repeat(i % 50)}');`),
    'COMMIT;',
    'SELECT count(*) FROM t;',
    'PRAGMA wal_checkpoint(TRUNCATE);',
    'PRAGMA integrity_check;',
  ].join('\n');
  const out = await shOk(`sqlite3 ${m}/db.sqlite`, { input: sql });
  const lines = out.trim().split('\n');
  assert.equal(lines[0], 'wal');
  assert.equal(lines[1], '1000');
  assert.equal(lines.at(-1), 'ok');
  const again = await shOk(`sqlite3 ${m}/db.sqlite 'SELECT count(*), sum(length(v)) FROM t;'`);
  assert.match(again.trim(), /^1000\|\d+$/);
});
