// The server's identity key: an ML-DSA-65 key in <logs-path>/server.key (mode 0600), made on
// first start. Clients pin its fingerprint (docs/FORMAT.md "Hello and key exchange").
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PrivateSignKey, decodeKeyText, encodeKeyText, generateSignKey, publicSignKey } from '../core/crypto/index.js';
import { ConfigError, KeyFormatError } from '../core/errors.js';
import { serverFingerprint } from '../core/mesh/wire/index.js';
import { readTextIfPresent } from '../core/files.js';

export const identityPath = (logsPath: string): string => join(logsPath, 'server.key');

/** The key in the file, or undefined when there is none yet. */
export async function readIdentity(logsPath: string): Promise<PrivateSignKey | undefined> {
  const path = identityPath(logsPath);
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  try {
    const k = decodeKeyText(text);
    if (k.kind !== 'sign-private') throw new KeyFormatError(`it holds a ${k.kind} key`);
    return k.key;
  } catch (err) {
    if (!(err instanceof KeyFormatError)) throw err;
    throw new ConfigError(`${path} is not a server identity key (${err.message}); restore it, or delete it to make a new identity (clients that pinned the old one will refuse the new one)`);
  }
}

/** The key in the file, made (and written, mode 0600) if there is none. */
export async function loadOrCreateIdentity(logsPath: string): Promise<PrivateSignKey> {
  const existing = await readIdentity(logsPath);
  if (existing) return existing;
  await mkdir(logsPath, { recursive: true });
  const key = generateSignKey('ml-dsa-65');
  try {
    await writeFile(identityPath(logsPath), `${encodeKeyText({ kind: 'sign-private', key })}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process made one meanwhile: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readIdentity(logsPath))!;
    throw err;
  }
  return key;
}

export const identityFingerprint = (key: PrivateSignKey): string => serverFingerprint(publicSignKey(key));
