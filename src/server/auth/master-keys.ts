// The auth server's master keys: a symmetric key mixed into every user's keys (so that the
// server's disk alone opens no user record) and an ML-DSA-65 key that roots the auth chains and
// signs tokens. One file, owner-only:
//   {"format":"ate-auth-master","version":1,"read":"ate-key:symmetric:...","write":"ate-key:sign-private:..."}
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type PrivateSignKey,
  type SymmetricKey,
  decodeKeyText,
  encodeKeyText,
  generateSignKey,
  generateSymmetricKey,
} from '../../core/crypto/index.js';
import { ConfigError, KeyFormatError } from '../../core/errors.js';

export interface MasterKeys {
  readonly read: SymmetricKey;
  readonly write: PrivateSignKey;
}

const FORMAT = 'ate-auth-master';
const VERSION = 1;

export const generateMasterKeys = (): MasterKeys => ({ read: generateSymmetricKey(), write: generateSignKey('ml-dsa-65') });

/** Writes new master keys to `path` with mode 0600; refuses to replace an existing file. */
export async function writeMasterKeys(path: string, keys: MasterKeys): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const text = `${JSON.stringify({
    format: FORMAT,
    version: VERSION,
    read: encodeKeyText({ kind: 'symmetric', key: keys.read }),
    write: encodeKeyText({ kind: 'sign-private', key: keys.write }),
  })}\n`;
  let file;
  try {
    file = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConfigError(`${path} already exists: replacing master keys locks every user out; move it away first if that is what you want`);
    }
    throw new ConfigError(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Reads master keys; one clear ConfigError for a missing, shared or malformed file. */
export async function readMasterKeys(path: string): Promise<MasterKeys> {
  let text: string;
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      throw new ConfigError(`${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError(`${path} does not exist; create the master keys with auth-server generate ${path}`);
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const j = JSON.parse(text) as { format?: unknown; version?: unknown; read?: unknown; write?: unknown };
    if (j.format !== FORMAT) throw new KeyFormatError('wrong format');
    if (j.version !== VERSION) throw new KeyFormatError(`unsupported version ${String(j.version)}`);
    const read = decodeKeyText(String(j.read));
    const write = decodeKeyText(String(j.write));
    if (read.kind !== 'symmetric' || write.kind !== 'sign-private') throw new KeyFormatError('wrong key kinds');
    return { read: read.key, write: write.key };
  } catch (cause) {
    throw new ConfigError(`${path} is not an auth-server master key file (${cause instanceof Error ? cause.message : String(cause)}); it was written by auth-server generate`, { cause });
  }
}
