// Real mounts through the real bin/atefs: foreground lifecycle and persistence, passcodes, --temp,
// --daemon with atefs umount, and the cleanup of a mount left by a killed atefs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { vaultNameFor } from '../../src/cli/atefs/paths.js';
import { assertOneLine, isMounted, skipMount, waitFor, withSandbox } from './helpers.js';

const sh = (script: string) => promisify(execFile)('sh', ['-c', script], { timeout: 30_000 });
const opts = { skip: skipMount, timeout: 180_000 };

/** Whether a process runs (a zombie, which no init reaped here, does not). */
async function alive(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).length > 0;
  } catch {
    return false;
  }
}

test('foreground: mount, write through a child process, SIGTERM flushes and exits 0; the file is there after a remount', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('vault');
    const vaultDir = join(s.data, 'ate', vaultNameFor(mnt));
    const first = await s.mount([mnt]);
    assert.match(first.summary, new RegExp(`^atefs: new vault mounted at ${mnt} \\(\\d+ objects; log ${vaultDir}; key file ${vaultDir}/vault.key\\); Ctrl-C to unmount$`));
    assert.ok(await isMounted(mnt));
    await sh(`echo hi > ${mnt}/a`);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.stderr());
    assert.match(first.stderr(), /unmounted .*vault; the vault is saved in/);
    assert.equal(await isMounted(mnt), false);
    // Nothing of the mount is left but the vault.
    assert.deepEqual(await readdir(join(s.data, 'ate', 'mounts')), []);
    assert.deepEqual((await readdir(vaultDir)).sort(), ['vault.json', 'vault.key', 'vault.log', 'vault.log.seal']);

    const second = await s.mount([mnt]);
    assert.match(second.summary, /^atefs: vault mounted at /);
    assert.equal(await readFile(join(mnt, 'a'), 'utf8'), 'hi\n');
    // A second mount on the same directory is refused while the first serves it.
    assertOneLine(await s.run(['mount', mnt]), 1, /is already mounted; unmount it first with: atefs umount/);
    second.child.kill('SIGINT');
    assert.equal(await second.exited, 0, second.stderr());
    assert.equal(await isMounted(mnt), false);
  }));

test('passcode: created with ATE_PASSCODE, a wrong one is refused before mounting, the right one reads the data back', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('secret');
    const m = await s.mount([mnt], { ATE_PASSCODE: 'open sesame' });
    assert.match(m.summary, /new vault mounted at .* opened by the passcode in ATE_PASSCODE\); Ctrl-C to unmount$/);
    await sh(`printf 'data' > ${mnt}/f`);
    m.child.kill('SIGTERM');
    assert.equal(await m.exited, 0);

    assertOneLine(await s.run(['mount', mnt], { ATE_PASSCODE: 'open barley' }), 1, new RegExp(`wrong passcode for the vault at ${mnt} \\(given by ATE_PASSCODE\\)$`));
    assert.equal(await isMounted(mnt), false);
    const again = await s.mount([mnt, '--passcode', 'open sesame']);
    assert.equal(await readFile(join(mnt, 'f'), 'utf8'), 'data');
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
  }));

test('--temp: an in-memory vault that leaves nothing behind', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('scratch');
    const m = await s.mount([mnt, '--temp']);
    assert.match(m.summary, /temporary: in memory with a random key, gone on unmount/);
    await sh(`echo x > ${mnt}/t`);
    m.child.kill('SIGTERM');
    assert.equal(await m.exited, 0);
    assert.deepEqual(await readdir(join(s.data, 'ate')), ['mounts']);
    const again = await s.mount([mnt, '--temp']);
    await assert.rejects(stat(join(mnt, 't')), { code: 'ENOENT' });
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
  }));

test('--daemon runs in the background; atefs umount makes it flush and exit', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('bg');
    const r = await s.run(['mount', mnt, '--daemon']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^atefs: new vault mounted at .*; atefs umount .* to unmount$/);
    const pid = Number(/pid (\d+)/.exec(r.stderr)?.[1]);
    assert.ok(pid > 0, r.stderr);
    s.track(pid);
    assert.ok(await isMounted(mnt));
    await sh(`echo bg > ${mnt}/b`);

    const u = await s.run(['umount', mnt]);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /unmounted/);
    assert.equal(await isMounted(mnt), false);
    assert.equal(await alive(pid), false, 'the daemon has exited');
    const log = await readFile(join(s.data, 'ate', 'mounts', `${vaultNameFor(mnt)}.log`), 'utf8');
    assert.match(log, /unmounted .*; the vault is saved in/);

    // Its data persisted.
    const again = await s.mount([mnt]);
    assert.equal(await readFile(join(mnt, 'b'), 'utf8'), 'bg\n');
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
    assertOneLine(await s.run(['umount', mnt]), 1, /is not mounted$/);
  }));

test('a mount left by a killed atefs is cleaned up by the next mount, or by atefs umount', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('crash');
    const m = await s.mount([mnt]);
    m.child.kill('SIGKILL');
    await m.exited;
    await assert.rejects(stat(mnt), { code: 'ENOTCONN' });

    const next = await s.mount([mnt]);
    assert.match(next.stderr(), /removed a dead mount at .*crash left by an atefs that was killed/);
    assert.ok(await isMounted(mnt));
    next.child.kill('SIGKILL');
    await next.exited;

    const u = await s.run(['umount', mnt]);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /removed the dead mount/);
    assert.equal(await isMounted(mnt), false);
  }));

test('an unmount from outside (fusermount -u) makes atefs flush and exit 0', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('ext');
    const m = await s.mount([mnt]);
    await sh(`echo ext > ${mnt}/e`);
    await sh(`fusermount -u ${mnt}`);
    assert.equal(await m.exited, 0, m.stderr());
    assert.match(m.stderr(), /was unmounted from outside; flushing the vault/);
    const again = await s.mount([mnt]);
    assert.equal(await readFile(join(mnt, 'e'), 'utf8'), 'ext\n');
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
    await waitFor(async () => !(await isMounted(mnt)), 10_000, 'the unmount');
  }));

test('flags reach the mount: --uid/--gid own new files, --read-only refuses writes, --non-empty mounts over files', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('flags');
    const m = await s.mount([mnt, '-u', '1234', '-g', '4321']);
    await sh(`echo owned > ${mnt}/o`);
    const st = await stat(join(mnt, 'o'));
    assert.deepEqual([st.uid, st.gid], [1234, 4321]);
    m.child.kill('SIGTERM');
    assert.equal(await m.exited, 0);

    const ro = await s.mount([mnt, '--read-only']);
    assert.match(ro.summary, /; read-only;/);
    assert.equal(await readFile(join(mnt, 'o'), 'utf8'), 'owned\n');
    await assert.rejects(sh(`echo no > ${mnt}/p`), /Read-only file system/);
    ro.child.kill('SIGTERM');
    assert.equal(await ro.exited, 0);

    const full = await s.dir('full');
    await sh(`echo hidden > ${full}/h`);
    const ne = await s.mount([full, '--non-empty']);
    await assert.rejects(stat(join(full, 'h')), { code: 'ENOENT' });
    ne.child.kill('SIGTERM');
    assert.equal(await ne.exited, 0);
    assert.equal(await readFile(join(full, 'h'), 'utf8'), 'hidden\n');
  }));

test('--daemon reports what stopped its child: a wrong passcode is one line and exit 1', opts, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('dpass');
    const ok = await s.run(['mount', mnt, '--daemon'], { ATE_PASSCODE: 'right' });
    assert.equal(ok.code, 0, ok.stderr);
    s.track(Number(/pid (\d+)/.exec(ok.stderr)?.[1]));
    assert.equal((await s.run(['umount', mnt])).code, 0);
    assertOneLine(await s.run(['mount', mnt, '--daemon'], { ATE_PASSCODE: 'wrong' }), 1, /wrong passcode for the vault at .*dpass \(given by ATE_PASSCODE\)$/);
    assert.equal(await isMounted(mnt), false);
  }));

test('a log path holds the vault; a second mount point on the same log is refused while the first serves it', opts, () =>
  withSandbox(async (s) => {
    const one = await s.dir('one');
    const two = await s.dir('two');
    const log = join(s.root, 'log');
    const m = await s.mount([one, log]);
    assert.match(m.summary, new RegExp(`log ${log}; key file ${log}/vault.key\\)`));
    await sh(`echo shared > ${one}/s`);
    assertOneLine(await s.run(['mount', two, log]), 1, new RegExp(`the vault ${log} is in use by atefs \\(pid ${m.child.pid}, mounted at ${one}\\)`));
    m.child.kill('SIGTERM');
    assert.equal(await m.exited, 0);
    assert.deepEqual(await readdir(join(s.data, 'ate')), ['mounts']);
    const other = await s.mount([two, log]);
    assert.equal(await readFile(join(two, 's'), 'utf8'), 'shared\n');
    other.child.kill('SIGTERM');
    assert.equal(await other.exited, 0);
  }));
