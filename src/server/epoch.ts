// A chain log's epoch (docs/FORMAT.md "Positions, epochs and resuming"): random, kept beside the
// log in <chain>.epoch, renewed whenever the log is renumbered, so that a client never resumes
// at a position of another numbering.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from '../core/crypto/index.js';

const EPOCH = /^[0-9a-f]{16}$/;

export const newEpoch = (): string => Buffer.from(randomBytes(8)).toString('hex');

/** The stored epoch, or a new one (stored) when there is none or it is unreadable. */
export async function loadEpoch(path: string): Promise<string> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (EPOCH.test(text)) return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return renewEpoch(path);
}

/** A new epoch, written atomically (a crash leaves the old or the new one). */
export async function renewEpoch(path: string): Promise<string> {
  const epoch = newEpoch();
  await writeFile(`${path}.tmp`, `${epoch}\n`);
  await rename(`${path}.tmp`, path);
  return epoch;
}
