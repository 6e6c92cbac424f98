// atefs mount of a remote chain by token, when it cannot work: one line each, a non-zero exit code,
// before anything is mounted.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { issueToken, parseToken } from '../../src/core/index.js';
import { readMasterKeys } from '../../src/server/auth/master-keys.js';
import { assertOneLine, withAuthServer } from './helpers.js';

const PASSWORD = 'correct horse battery';

test('atefs mount by token: no token, expired, malformed, unreachable servers, misused flags', { timeout: 120_000 }, () =>
  withAuthServer(async (s) => {
    await s.atefs(['user', 'create', 'joe@example.com'], { ATE_PASSWORD: PASSWORD });
    const token = (await s.atefs(['token', 'generate', 'joe@example.com'], { ATE_PASSWORD: PASSWORD })).stdout.trim();
    const dir = join(s.root, 'mnt');
    await mkdir(dir);
    const log = join(s.root, 'replica');
    const personal = 'tcp://127.0.0.1:1/example.com/joe/files';
    const mount = (args: string[], env: NodeJS.ProcessEnv = {}) => s.atefs(['mount', dir, ...args], env);

    assertOneLine(await mount([personal, log]), /a remote vault is opened by a token .* or by a passcode/);
    const master = await readMasterKeys(s.keyPath);
    const expired = issueToken(parseToken(token).claims.session, master.write, { now: Date.now() - 2 * 86_400_000, validForMs: 86_400_000 });
    assertOneLine(await mount([personal, log], { ATE_TOKEN: expired }), /^atefs: ATE_TOKEN: the token expired on \d{4}-/);
    assertOneLine(await mount([personal, log, '--token', 'nonsense']), /--token: the token is malformed/);
    assertOneLine(await mount([personal, log, '--token-path', join(s.root, 'missing')]), /the token file .*missing does not exist/);
    assertOneLine(await mount([personal, log], { ATE_TOKEN: token }), /cannot reach atedb at 127\.0\.0\.1:1/);
    assertOneLine(await mount(['tcp://127.0.0.1:1/team', log, '--auth', 'tcp://127.0.0.1:1'], { ATE_TOKEN: token }), /cannot reach the auth server at 127\.0\.0\.1:1/);
    assertOneLine(await mount([personal, log, '--passcode', 'correct horse battery'], { ATE_TOKEN: token }), /opens by a token .* or by a passcode .* not both/);
    assertOneLine(await mount([personal, log, '--no-auth', '--token', token]), /--no-auth mounts by passcode, which takes no token/);
    assertOneLine(await mount([log, '--token', token]), /a token opens a remote chain/);
    assertOneLine(await mount([personal, log, '--no-wire-encryption'], { ATE_TOKEN: token }), /a token is never sent without wire encryption/);
  }));
