// The passcode prompt on a terminal (through script(1), which gives atefs a pseudo-terminal):
// typed twice for a new vault, once (three tries) to open one.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { vaultNameFor } from '../../src/cli/atefs/paths.js';
import { openVault, readVaultMeta } from '../../src/cli/atefs/vault.js';
import { ATEFS, isMounted, skipMount, waitFor, withSandbox, type Sandbox } from './helpers.js';

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const skip = SCRIPT ? false : 'script(1) is not installed';

/** Runs atefs on a pseudo-terminal with `typed` as keyboard input; exit code and output. */
function onTerminal(s: Sandbox, args: string[], typed: string): Promise<{ code: number; out: string }> {
  const command = [process.execPath, ATEFS, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const child = execFile(SCRIPT!, ['-qec', command, '/dev/null'], { env: s.env, timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout });
    });
    child.stdin!.end(typed);
  });
}

test('a new vault asks for the passcode twice; three mismatches create nothing', { skip }, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    const r = await onTerminal(s, ['mount', mnt], 'one\rtwo\rone\rtwo\rone\rtwo\r');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /Choose a passcode/);
    assert.match(r.out, /the two passcodes differ, try again/);
    assert.match(r.out, /atefs: the two passcodes differed three times; nothing was created/);
    assert.equal(existsSync(join(s.data, 'ate', vaultNameFor(mnt))), false);
  }));

test('an existing vault asks once per try and gives up after three wrong passcodes', { skip }, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    const dir = join(s.data, 'ate', vaultNameFor(mnt));
    await openVault(dir, mnt, undefined, { passcode: { passcode: 'right', from: 'prompt' } });
    const r = await onTerminal(s, ['mount', mnt], 'a\rb\rc\r');
    assert.equal(r.code, 1, r.out);
    assert.equal(r.out.match(/Passcode for the vault at /g)?.length, 3);
    assert.match(r.out, new RegExp(`atefs: wrong passcode for the vault at ${mnt}\\r?$`, 'm'));
    assert.deepEqual(await readdir(dir), ['vault.json']);
    assert.equal((await readVaultMeta(dir))?.key, 'passcode');
  }));

test('the passcode typed at the prompt creates the vault and opens it again', { skip: skip || skipMount, timeout: 120_000 }, () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    for (const typed of ['pass\rpass\r', 'wrong\rpass\r']) {
      const command = [process.execPath, ATEFS, 'mount', mnt].map((a) => `'${a}'`).join(' ');
      const child = spawn(SCRIPT!, ['-qec', command, '/dev/null'], { env: s.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.stdin.end(typed);
      await waitFor(() => /mounted at/.test(out) || child.exitCode !== null, 60_000, 'the mount');
      assert.match(out, /vault mounted at .*opened by passcode\); Ctrl-C to unmount/);
      if (typed.startsWith('wrong')) assert.match(out, /wrong passcode, try again/);
      const u = await s.run(['umount', mnt]);
      assert.equal(u.code, 0, u.stderr);
      assert.equal(await exited, 0, out);
      assert.equal(await isMounted(mnt), false);
    }
  }));
