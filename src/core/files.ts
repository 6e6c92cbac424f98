// Small files read and replaced whole (sync states, epochs, identities, tokens, vault metadata).
import { open, readFile, rename, unlink } from 'node:fs/promises';

/** The file's text, or undefined when it does not exist (any other error is thrown). */
export async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Replaces a file whole: written to a new temporary file beside it, synced, then renamed over it,
 * so a crash leaves the old content or the new one, never a part.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const file = await open(tmp, 'wx', mode);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
