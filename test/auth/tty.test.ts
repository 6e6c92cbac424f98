// The prompts on a terminal (through script(1), which gives atefs a pseudo-terminal): what is
// missing is asked for, the new password twice and held to the strength floor.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { ATEFS, type AuthSandbox, withAuthServer } from './helpers.js';

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const skip = SCRIPT ? false : 'script(1) is not installed';

/**
 * Runs atefs on a pseudo-terminal and types each step's line (Enter after it) once its prompt has
 * appeared as often as the steps so far ask for it: typed earlier, the terminal itself would echo
 * it, and fixed delays fail on a loaded machine.
 */
function onTerminal(s: AuthSandbox, args: string[], steps: ReadonlyArray<readonly [RegExp, string]>): Promise<{ code: number; out: string }> {
  const command = [process.execPath, ATEFS, '--auth', s.url, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    // CI=true as on CI machines, where ink would otherwise hold every frame back until it exits.
    const child = spawn(SCRIPT!, ['-qec', command, '/dev/null'], { env: { ...s.env, CI: 'true' } });
    let out = '';
    let next = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const seen = (prompt: RegExp): number => out.match(new RegExp(prompt.source, 'g'))?.length ?? 0;
    const needed = (i: number): number => steps.slice(0, i + 1).filter(([p]) => p.source === steps[i]![0].source).length;
    let fallback: NodeJS.Timeout | undefined;
    const typeNext = (): void => {
      const line = steps[next]![1];
      next++;
      clearTimeout(fallback);
      setTimeout(() => {
        child.stdin.write(`${line}\r`);
        // A prompt asked again with the same warning is the same frame: ink draws nothing new.
        if (next < steps.length) fallback = setTimeout(typeNext, 3000);
      }, 300);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      while (next < steps.length && seen(steps[next]![0]) >= needed(next)) typeNext();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearTimeout(fallback);
      resolve({ code: code ?? 1, out });
    });
  });
}

const EMAIL = /Email: /;
const CHOOSE = /Choose a password: /;
const AGAIN = /Type it again: /;
const PASSWORD = /Password: /;

test('user create asks for the email and the password twice, refusing weak and mismatched ones', { skip, timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    const r = await onTerminal(s, ['user', 'create'], [
      [EMAIL, 'tty@example.com'],
      [CHOOSE, 'short'],
      [CHOOSE, 'correct horse battery'],
      [AGAIN, 'correct horse batterx'],
      [CHOOSE, 'correct horse battery'],
      [AGAIN, 'correct horse battery'],
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Email:/);
    assert.match(r.out, /Choose a password:/);
    assert.match(r.out, /the password is too short: use at least 10 characters, try again/);
    assert.match(r.out, /the two passwords differ, try again/);
    assert.match(r.out, /user tty@example.com created/);
    assert.doesNotMatch(r.out, /correct horse/, 'the password is never echoed');

    const login = await onTerminal(s, ['token', 'generate', 'tty@example.com'], [[PASSWORD, 'correct horse battery']]);
    assert.equal(login.code, 0, login.out);
    assert.match(login.out, /Password:/);
    assert.match(login.out, /ate-token:[A-Za-z0-9_-]{100,}/);
    assert.doesNotMatch(login.out, /correct horse/);
  }));

test('three refused passwords give up with one line and create nothing', { skip, timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    const r = await onTerminal(s, ['user', 'create', 'no@example.com'], [
      [CHOOSE, 'aaaaaaaaaaaa'],
      [CHOOSE, 'bbbbbbbbbbbb'],
      [CHOOSE, 'cccccccccccc'],
    ]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /atefs: the password repeats too few characters: use at least 6 different ones; gave up after 3 tries, nothing was done/);
    const again = await s.atefs(['user', 'create', 'no@example.com'], { ATE_PASSWORD: 'correct horse battery' });
    assert.equal(again.code, 0, again.stderr);
  }));
