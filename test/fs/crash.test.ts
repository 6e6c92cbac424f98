// kill -9 of atefs during writes, then remount: everything fsync'ed is there, byte for byte, and the
// chain validates. Runs the real bin/atefs (a key-file vault in a temporary XDG_DATA_HOME); the
// writer and the readers are child processes, never this one.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { isMounted, skipMount, waitFor, withSandbox } from '../cli/helpers.js';

const execFileAsync = promisify(execFile);

/**
 * Writes files forever under argv[1] until the mount dies, one line per file on stdout:
 *   S <path> <size>          written, fsync'ed (the line comes only after fsync returned)
 *   A <path> <size> <extra>  <size> bytes fsync'ed, then <extra> more appended without fsync
 *   W <path> <size>          written without fsync
 *   E <errno> <message>      the first error (the mount went away); then it exits
 * The content of file i is shake_256('crash:i'); the appended tail of an A file is shake_256('tail:i').
 */
const WRITER = String.raw`
import os, sys, hashlib
root = sys.argv[1]
SIZES = [0, 1, 4095, 65536, 131073, 700000, 2500000]
def content(tag, i, n): return hashlib.shake_256(b'%s:%d' % (tag, i)).digest(n)
def write_all(fd, b):
    v = memoryview(b)
    while len(v):
        n = os.write(fd, v[:131072]); v = v[n:]
i = 0
try:
    while True:
        d = 'd%d' % (i // 40)
        os.makedirs(os.path.join(root, d), exist_ok=True)
        rel = '%s/f%d' % (d, i)
        size = SIZES[i % len(SIZES)]
        kind = i % 4
        fd = os.open(os.path.join(root, rel), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        write_all(fd, content(b'crash', i, size))
        if kind == 0:
            os.fsync(fd)
            print('S %s %d' % (rel, size), flush=True)
        elif kind == 1:
            os.fsync(fd)
            extra = SIZES[(i // 4) % len(SIZES)] or 10
            print('A %s %d %d' % (rel, size, extra), flush=True)
            write_all(fd, content(b'tail', i, extra))
        else:
            print('W %s %d' % (rel, size), flush=True)
        os.close(fd)
        i += 1
except OSError as e:
    print('E %d %s' % (e.errno, e.strerror), flush=True)
`;

/**
 * Reads the writer's report on stdin and checks the tree under argv[1]: every file and directory
 * can be listed, stat'ed and read to the end without an error; S files are exact; A files start with
 * their fsync'ed bytes, followed by a prefix of the tail where any byte may also be a zero (a hole);
 * W files, if present, are a prefix of their content with the same allowance. Prints JSON.
 */
const CHECKER = String.raw`
import os, sys, json, hashlib
root = sys.argv[1]
def content(tag, i, n): return hashlib.shake_256(b'%s:%d' % (tag, i)).digest(n)
def loose(got, want):
    # got is a prefix of want, except that bytes may read as zero
    if len(got) > len(want): return False
    return all(g == w or g == 0 for g, w in zip(got, want))
errors, problems, found = [], [], {}
for dirpath, dirs, files in os.walk(root, onerror=lambda e: errors.append('walk %s: %s' % (e.filename, e))):
    for name in dirs + files:
        p = os.path.join(dirpath, name)
        try:
            st = os.lstat(p)
            if not os.path.isdir(p):
                with open(p, 'rb') as h: data = h.read()
                if len(data) != st.st_size: problems.append('%s: read %d bytes of %d' % (p, len(data), st.st_size))
                found[os.path.relpath(p, root)] = data
        except OSError as e:
            errors.append('%s: %s' % (p, e))
counts = {'S': 0, 'A': 0, 'W': 0, 'W-present': 0}
for line in sys.stdin:
    f = line.split()
    if not f or f[0] not in ('S', 'A', 'W'): continue
    kind, rel, size = f[0], f[1], int(f[2])
    i = int(rel.rsplit('/f', 1)[1])
    want = content(b'crash', i, size)
    got = found.get(rel)
    counts[kind] += 1
    if kind == 'S':
        if got is None: problems.append('%s (fsynced) is missing' % rel)
        elif got != want: problems.append('%s (fsynced): %d bytes, want %d, equal prefix %d' % (rel, len(got), size, next((k for k in range(min(len(got), size)) if got[k] != want[k]), min(len(got), size))))
    elif kind == 'A':
        tail = content(b'tail', i, int(f[3]))
        if got is None: problems.append('%s (fsynced, then appended) is missing' % rel)
        elif got[:size] != want: problems.append('%s (fsynced, then appended): the fsynced %d bytes differ (got %d bytes)' % (rel, size, len(got)))
        elif not loose(got[size:], tail): problems.append('%s: bytes after the fsynced part are not the appended ones' % rel)
    elif got is not None:
        counts['W-present'] += 1
        if not loose(got, want): problems.append('%s (not fsynced): bytes that were never written' % rel)
print(json.dumps({'errors': errors, 'problems': problems, 'counts': counts, 'files': len(found)}))
`;

interface Check {
  errors: string[];
  problems: string[];
  counts: { S: number; A: number; W: number; 'W-present': number };
  files: number;
}

/** Runs the checker in a child process with the writer's report on stdin. */
function check(root: string, report: string): Promise<Check> {
  return new Promise((done, failed) => {
    const child = execFile('python3', ['-c', CHECKER, root], { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return failed(new Error(`checker failed: ${err.message}\n${stderr}`));
      try {
        done(JSON.parse(stdout) as Check);
      } catch {
        failed(new Error(`checker printed no JSON: ${stdout}\n${stderr}`));
      }
    });
    child.stdin!.end(report);
  });
}

function assertClean(c: Check, what: string): void {
  assert.deepEqual(c.errors, [], `${what}: errors listing or reading the tree`);
  assert.deepEqual(c.problems, [], `${what}: fsynced data lost or damaged`);
}

test('kill -9 of atefs during writes: after a remount every fsynced file is there and the chain validates', { skip: skipMount, timeout: 150_000 }, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('vault');
    const first = await s.mount([mnt]);

    // The writer, killed with the mount under it.
    let writer: ChildProcess | undefined;
    try {
      writer = spawn('python3', ['-u', '-c', WRITER, mnt], { stdio: ['ignore', 'pipe', 'pipe'] });
      let report = '';
      let writerErr = '';
      writer.stdout!.setEncoding('utf8').on('data', (d: string) => (report += d));
      writer.stderr!.setEncoding('utf8').on('data', (d: string) => (writerErr += d));
      const writerDone = new Promise<void>((r) => writer!.on('close', () => r()));
      const synced = (): number => (report.match(/^[SA] /gm) ?? []).length;
      const started = Date.now();
      // At least 40 fsyncs and 2 s of writing, or whatever 30 s gave (the machine may be busy).
      await waitFor(() => (synced() >= 40 && Date.now() - started > 2000) || Date.now() - started > 30_000 || writer!.exitCode !== null, 40_000, 'fsyncs');
      assert.equal(writer.exitCode, null, `the writer stopped early:\n${report.slice(-2000)}\n${writerErr}`);
      assert.ok(synced() >= 5, `only ${synced()} fsyncs in 30 s`);
      // Land anywhere in a file: inside a write, an fsync, or just after one returned.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));

      first.child.kill('SIGKILL');
      assert.equal(await first.exited, 'SIGKILL');
      // The writer fails on the dead mount and exits; kill it if it hangs.
      const hung = setTimeout(() => writer!.kill('SIGKILL'), 10_000);
      await writerDone;
      clearTimeout(hung);
      assert.match(report, /^E \d+ /m, `the writer saw no error from the dead mount:\n${report.slice(-500)}\n${writerErr}`);

      // Clean the dead mount, as a user would; then the real CLI mounts the vault again.
      await execFileAsync('fusermount', ['-uz', mnt]);
      assert.equal(await isMounted(mnt), false);
      const second = await s.mount([mnt]);
      assert.match(second.summary, /^atefs: vault mounted at /);
      const after = await check(mnt, report);
      assertClean(after, 'after kill -9 and remount');
      assert.ok(after.counts.S + after.counts.A >= 5, JSON.stringify(after.counts));
      // The mount works: new writes go through and stay.
      report += 'S extra/f0 12345\n';
      await execFileAsync('python3', [
        '-c',
        `import os, sys, hashlib\nos.makedirs(sys.argv[1] + '/extra', exist_ok=True)\n` +
          `fd = os.open(sys.argv[1] + '/extra/f0', os.O_CREAT | os.O_WRONLY, 0o644)\nos.write(fd, hashlib.shake_256(b'crash:0').digest(12345))\nos.fsync(fd)\nos.close(fd)`,
        mnt,
      ]);

      // A clean unmount, and a third mount: the repaired log reopens (the chain validates on open).
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.stderr());
      assert.equal(await isMounted(mnt), false);
      const third = await s.mount([mnt]);
      const again = await check(mnt, report);
      assertClean(again, 'after a clean unmount and a third mount');
      assert.equal(again.files, after.files + 1);
      third.child.kill('SIGTERM');
      assert.equal(await third.exited, 0, third.stderr());
      console.log(`crash test: ${after.counts.S} fsynced, ${after.counts.A} fsynced then appended, ${after.counts['W-present']} of ${after.counts.W} unsynced files present; ${after.files} files after the crash`);
    } finally {
      if (writer && writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL');
    }
  }));
