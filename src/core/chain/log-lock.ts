// One process at a time per log directory: a second writer would interleave records, and a
// second reader could cut a record the first is writing as if it were a torn tail.
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { LockError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock file (holding this process's pid); a lock left by a dead process is taken over. */
export async function lockLog(path: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new LockError(`${what} is open in another process (pid ${pid}); close that process first`);
    }
    if (pid === process.pid) throw new LockError(`${what} is already open in this process; use the chain already open`);
    await unlink(path).catch(() => undefined);
  }
  throw new LockError(`could not take the lock ${path}; remove it if no process uses ${what}`);
}
