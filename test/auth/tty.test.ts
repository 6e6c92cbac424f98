// The prompts on a terminal (through script(1), which gives atefs a pseudo-terminal): what is
// missing is asked for, the new password twice and held to the strength floor.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { ATEFS, type AuthSandbox, withAuthServer } from './helpers.js';

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const skip = SCRIPT ? false : 'script(1) is not installed';

/**
 * Runs atefs on a pseudo-terminal and types `lines` (Enter after each): the first once atefs is
 * up (typed earlier, the terminal itself would echo it), then one every 400 ms.
 */
function onTerminal(s: AuthSandbox, args: string[], lines: string[]): Promise<{ code: number; out: string }> {
  const command = [process.execPath, ATEFS, '--auth', s.url, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const child = execFile(SCRIPT!, ['-qec', command, '/dev/null'], { env: s.env, timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout });
    });
    const type = (i: number): void => {
      if (i === lines.length) return void setTimeout(() => child.stdin!.end(), 3000);
      setTimeout(
        () => {
          child.stdin!.write(`${lines[i]}\r`);
          type(i + 1);
        },
        i === 0 ? 2500 : 400,
      );
    };
    type(0);
  });
}

test('user create asks for the email and the password twice, refusing weak and mismatched ones', { skip, timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    const typed = ['tty@example.com', 'short', 'correct horse battery', 'correct horse batterx', 'correct horse battery', 'correct horse battery'];
    const r = await onTerminal(s, ['user', 'create'], typed);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Email:/);
    assert.match(r.out, /Choose a password:/);
    assert.match(r.out, /the password is too short: use at least 10 characters, try again/);
    assert.match(r.out, /the two passwords differ, try again/);
    assert.match(r.out, /user tty@example.com created/);
    assert.doesNotMatch(r.out, /correct horse/, 'the password is never echoed');

    const login = await onTerminal(s, ['token', 'generate', 'tty@example.com'], ['correct horse battery']);
    assert.equal(login.code, 0, login.out);
    assert.match(login.out, /Password:/);
    assert.match(login.out, /ate-token:[A-Za-z0-9_-]{100,}/);
    assert.doesNotMatch(login.out, /correct horse/);
  }));

test('three refused passwords give up with one line and create nothing', { skip, timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    const r = await onTerminal(s, ['user', 'create', 'no@example.com'], ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /atefs: the password repeats too few characters: use at least 6 different ones; gave up after 3 tries, nothing was done/);
    const again = await s.atefs(['user', 'create', 'no@example.com'], { ATE_PASSWORD: 'correct horse battery' });
    assert.equal(again.code, 0, again.stderr);
  }));
