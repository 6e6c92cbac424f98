// Where a command's token comes from (--token, --token-path, ATE_TOKEN), how it is checked
// against the auth server, and how token files are written (mode 0600, replaced atomically).
import { readFile, stat } from 'node:fs/promises';
import { TokenError, type TokenClaims, type TokenText, verifyToken } from '../../core/session/token.js';
import { CliError, UsageError } from '../run.js';
import type { AuthClient } from './auth-client.js';
import type { AuthArgv } from './auth-options.js';
import { writeFileAtomic } from '../../core/files.js';

export interface GivenToken {
  readonly text: TokenText;
  /** Where it came from, for messages: '--token', 'ATE_TOKEN' or the file's path. */
  readonly from: string;
}

/** The token the command line or the environment names, or undefined. */
export async function givenToken(a: Pick<AuthArgv, 'token' | 'tokenPath'>): Promise<GivenToken | undefined> {
  if (Array.isArray(a.token) || Array.isArray(a.tokenPath)) throw new UsageError('give --token or --token-path once');
  if (a.token !== undefined && a.tokenPath !== undefined) throw new UsageError('give --token or --token-path, not both');
  if (a.token !== undefined) return { text: a.token.trim() as TokenText, from: '--token' };
  if (a.tokenPath !== undefined) return { text: (await readTokenFile(a.tokenPath)) as TokenText, from: a.tokenPath };
  const env = process.env['ATE_TOKEN'];
  if (env !== undefined && env.trim() !== '') return { text: env.trim() as TokenText, from: 'ATE_TOKEN' };
  return undefined;
}

async function readTokenFile(path: string): Promise<string> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new CliError(`the token file ${path} is a directory; name the file that atefs token generate --out wrote`);
    if ((st.mode & 0o077) !== 0) console.error(`atefs: warning: ${path} is readable by other users; run chmod 600 ${path}`);
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`the token file ${path} does not exist; write one with atefs token generate --out ${path}`);
    if (code === 'EACCES') throw new CliError(`the token file ${path} is not readable by you`);
    throw new CliError(`cannot read the token file ${path}: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/** The claims of a token once the auth server's key has signed it and it is current. */
export async function verifiedToken(client: AuthClient, token: GivenToken): Promise<TokenClaims> {
  const key = await client.identity();
  try {
    return verifyToken(token.text, { key, name: `the auth server at ${client.url}` });
  } catch (err) {
    if (err instanceof TokenError) throw new CliError(`${token.from}: ${err.message}`, undefined, { cause: err });
    throw err;
  }
}

/** Writes a token file readable by its owner only; an existing file is replaced whole or not at all. */
export async function writeTokenFile(path: string, token: string): Promise<void> {
  try {
    await writeFileAtomic(path, `${token}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'its directory does not exist' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new CliError(`cannot write the token to ${path}: ${why}`, undefined, { cause: err });
  }
}
