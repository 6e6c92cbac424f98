// atefs's command line: help, and every bad input ending in one clear line and the right exit code.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLine, withSandbox } from './helpers.js';

test('--help lists the commands; mount --help documents the vault and the formats', () =>
  withSandbox(async (s) => {
    const top = await s.run(['--help']);
    assert.equal(top.code, 0);
    for (const cmd of ['mount <mount-path>', 'umount <mount-path>', 'log <mount-path>', 'user', 'token', 'group']) assert.ok(top.stdout.includes(cmd), cmd);
    const mount = await s.run(['mount', '--help']);
    assert.equal(mount.code, 0);
    for (const text of [
      '--passcode',
      '--temp',
      '--uid',
      '--gid',
      '--allow-other',
      '--allow-root',
      '--read-only',
      '--write-back',
      '--non-empty',
      '--impersonate-uid',
      '--recovery-mode',
      '--compact-now',
      '--compact-mode',
      '--compact-timer',
      '--compact-threshold-factor',
      '--compact-threshold-size',
      '--configured-for',
      '--meta-format',
      '--data-format',
      '--daemon',
      '--at',
      'ATE-TS stores msgpack, one fixed format',
      'vault-XXXXXXXX',
      'SHA-256',
      'ATE_PASSCODE',
    ]) {
      assert.ok(mount.stdout.replace(/\s+/g, ' ').includes(text), `mount --help mentions ${text}`);
    }
  }));

test('usage errors: one line, exit code 2', () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    const cases: Array<[string[], RegExp]> = [
      [[], /name a command/],
      [['frobnicate'], /Unknown argument: frobnicate/],
      [['mount'], /name the mount point: atefs mount <mount-path>/],
      [['umount'], /name the mount point: atefs umount <mount-path>/],
      [['mount', mnt, '--bogus'], /Unknown argument: bogus/],
      [['--read-only', 'mount', mnt], /--read-only is an option of atefs mount: give it after the command \(atefs mount --read-only <mount-path> \.\.\.\)/],
      [['mount', mnt, '--temp', join(s.root, 'logs')], /--temp keeps the chain in memory, so it takes no log path/],
      [['mount', mnt, '--temp', '--passcode', 'x'], /--temp makes a throw-away vault .* takes no passcode/],
      [['mount', mnt, '--passcode', ''], /--passcode is empty/],
      [['mount', mnt, '--allow-other', '--allow-root'], /not both/],
      [['mount', mnt, '--recovery-mode', 'sometimes'], /--recovery-mode "sometimes" is not one of async, readonly-async, readonly-sync, sync/],
      [['mount', mnt, '--configured-for', 'fast'], /--configured-for "fast" is not one of/],
      [['mount', mnt, '--meta-format', 'xml'], /--meta-format "xml" is not one of json, mpack, bincode/],
      [['mount', mnt, '--compact-mode', 'often'], /--compact-mode "often" is not one of/],
      [['mount', mnt, '--compact-timer', 'soon'], /"soon" is not a duration/],
      [['mount', mnt, '--compact-threshold-size', 'big'], /"big" is not a size/],
      [['mount', mnt, '--compact-threshold-factor', '-1'], /--compact-threshold-factor must be a number above 0/],
      [['mount', mnt, '--uid', 'root'], /--uid "root" is not a numeric uid/],
      [['mount', mnt, '--passcode', 'a', '--passcode', 'b'], /--passcode was given 2 times/],
      [['mount', `${mnt}/bad\nname`], /contains a control character/],
      [['mount', mnt, join(s.root, 'log\tdir')], /log path .* contains a control character/],
      [['mount', mnt, 'http://example.com/chain'], /atefs speaks tcp:\/\/ only/],
      [['mount', mnt, 'tcp://localhost:5000/x', join(s.root, 'logs'), 'extra'], /Unknown argument: extra/],
      [['mount', mnt, 'tcp://localhost:5000/x', '--wire-encryption', '64'], /--wire-encryption "64" is not one of 128, 192, 256/],
      [['mount', mnt, 'tcp://localhost:5000/'], /names no chain/],
      [['mount', mnt, 'tcp://localhost:5000/x', '--temp'], /a remote chain lives on its server/],
      [['mount', mnt, '--at', 'yesterday-ish'], /--at "yesterday-ish" is neither a time .* nor an event id/],
      [['umount', `${mnt}\u001b[2J`], /contains a control character/],
    ];
    for (const [args, pattern] of cases) {
      const r = await s.run(args);
      assertOneLine(r, 2, pattern);
    }
  }));

test('a remote chain whose server cannot be reached: one line, exit code 1', () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    assertOneLine(await s.run(['mount', mnt, 'tcp://127.0.0.1:1/example.com/joe/files', '--passcode', 'correct horse battery']), 1, /cannot reach atedb at 127\.0\.0\.1:1/);
  }));

test('bad mount points: one line, exit code 1, nothing created', () =>
  withSandbox(async (s) => {
    const missing = join(s.root, 'nope');
    assertOneLine(await s.run(['mount', missing]), 1, new RegExp(`${missing} does not exist: create it with mkdir -p ${missing}$`));
    const file = join(s.root, 'afile');
    await writeFile(file, 'x');
    assertOneLine(await s.run(['mount', file]), 1, /afile is not a directory/);
    assertOneLine(await s.run(['mount', join(file, 'below')]), 1, /a part of its path is a file/);
    const full = await s.dir('full');
    await writeFile(join(full, 'x'), 'x');
    assertOneLine(await s.run(['mount', full]), 1, /full is not empty \(1 entry\); .* --non-empty/);
    // Accepted options pass the checks (the reference's aliases too) and fail only at the mount point.
    assertOneLine(
      await s.run(['mount', missing, '--configured-for', 'speed', '--meta-format', 'bincode', '--data-format', 'json', '-i', '--recovery-mode', 'sync', '--compact-timer', '1h', '--compact-threshold-size', '104857600', '-u', '1000', '-g', '1000', '-rw']),
      1,
      /does not exist/,
    );
    assertOneLine(await s.run(['umount', await s.dir('idle')]), 1, /idle is not mounted$/);
    assertOneLine(await s.run(['umount', '/proc']), 1, /\/proc is not an atefs mount \(it is proc\)/);
  }));
