// Server identity pinning (trust on first use), like ssh's known_hosts: one line per server,
// "host:port fingerprint"; a server that later shows another key is refused.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, ServerIdentityError } from '../../errors.js';
import { readTextIfPresent } from '../../files.js';

/** $XDG_CONFIG_HOME/ate/known_servers, else ~/.config/ate/known_servers. */
export function defaultKnownServersPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(base, 'ate', 'known_servers');
}

const FINGERPRINT = /^[0-9a-f]{64}$/;

/** A fingerprint as typed by a user (any case, optional ':' or '-' separators); ConfigError if it is not one. */
export function parseFingerprint(text: string): string {
  const f = text.trim().toLowerCase().replace(/[:-]/g, '');
  if (!FINGERPRINT.test(f)) throw new ConfigError(`"${text}" is not a server fingerprint (64 hex digits, as atedb fingerprint prints it)`);
  return f;
}

/**
 * Checks a server's fingerprint: against `expected` when given, else against the pin for
 * host:port in the file, pinning it there on first use. ServerIdentityError on a mismatch.
 */
export async function checkServerIdentity(opts: { host: string; port: number; fingerprint: string; expected?: string; path?: string }): Promise<void> {
  const where = `${opts.host}:${opts.port}`;
  if (opts.expected !== undefined) {
    const expected = parseFingerprint(opts.expected);
    if (expected !== opts.fingerprint) {
      throw new ServerIdentityError(
        `the server at ${where} has identity key ${opts.fingerprint}, not the ${expected} that was given; refusing to talk to it`,
      );
    }
    return;
  }
  const path = opts.path ?? defaultKnownServersPath();
  const text = (await readTextIfPresent(path)) ?? '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const [name, pinned] = lines[i]!.trim().split(/\s+/);
    if (name !== where || pinned === undefined) continue;
    if (pinned === opts.fingerprint) return;
    throw new ServerIdentityError(
      `the server at ${where} has identity key ${opts.fingerprint}, but ${path} pins ${pinned} for it (line ${i + 1}); ` +
        `someone may be impersonating it. If its key was changed on purpose, delete line ${i + 1} of ${path} and connect again`,
    );
  }
  await mkdir(dirname(path), { recursive: true });
  const lead = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
  await appendFile(path, `${lead}${where} ${opts.fingerprint}\n`, { mode: 0o600 });
}
