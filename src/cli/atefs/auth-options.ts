// The flags every user, token and group command takes (and atefs mount can share): where the
// auth server is, which token to use, how the wire is encrypted.
import type { Options } from 'yargs';
import { UsageError } from '../run.js';
import { DEFAULT_AUTH_URL } from './auth-client.js';

const group = 'Auth:';

export const authOptions = {
  auth: { alias: 'a', type: 'string', default: DEFAULT_AUTH_URL, group, describe: 'the auth server, tcp://host[:port] (default port 5001); --no-auth: none' },
  token: { alias: 't', type: 'string', group, describe: 'a token (safer: ATE_TOKEN=... or --token-path, since a command line is visible to other users)' },
  'token-path': { type: 'string', group, describe: 'a file that holds a token (atefs token generate --out <file> writes one)' },
  'wire-encryption': { type: 'string', default: '256', group, describe: 'AES key size asked for on the wire to the auth server: 128, 192 or 256' },
  verbose: { alias: 'v', type: 'count', describe: 'more detail on stderr' },
} satisfies Record<string, Options>;

export interface AuthArgv {
  auth: string | false;
  token?: string;
  tokenPath?: string;
  wireEncryption: string;
  verbose?: number;
}

/** The auth server URL, refusing --no-auth for a command that needs one. */
export function authUrlOf(a: AuthArgv, command: string): string {
  if (a.auth === false) throw new UsageError(`atefs ${command} talks to an auth server; drop --no-auth`);
  if (Array.isArray(a.auth)) throw new UsageError('--auth was given more than once; give it once');
  return a.auth;
}

export function wireEncryptionOf(a: AuthArgv): 128 | 192 | 256 {
  const bits = Number(a.wireEncryption);
  if (bits !== 128 && bits !== 192 && bits !== 256) throw new UsageError(`--wire-encryption takes 128, 192 or 256, not "${a.wireEncryption}"`);
  return bits;
}
