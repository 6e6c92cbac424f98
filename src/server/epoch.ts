// A chain log's epoch (docs/FORMAT.md "Positions, epochs and resuming"): random, kept beside the
// log in <chain>.epoch, renewed whenever the log is renumbered, so that a client never resumes
// at a position of another numbering.
import { randomBytes } from '../core/crypto/index.js';
import { readTextIfPresent, writeFileAtomic } from '../core/files.js';

const EPOCH = /^[0-9a-f]{16}$/;

export const newEpoch = (): string => Buffer.from(randomBytes(8)).toString('hex');

/** The stored epoch, or a new one (stored) when there is none or it is unreadable. */
export async function loadEpoch(path: string): Promise<string> {
  const text = (await readTextIfPresent(path))?.trim();
  if (text !== undefined && EPOCH.test(text)) return text;
  return renewEpoch(path);
}

/** A new epoch, written atomically (a crash leaves the old or the new one). */
export async function renewEpoch(path: string): Promise<string> {
  const epoch = newEpoch();
  await writeFileAtomic(path, `${epoch}\n`);
  return epoch;
}
