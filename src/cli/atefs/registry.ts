// Records of live mounts, so that `atefs umount` finds the process serving a mount point, and a
// lock per vault directory, so that two processes never write one log.
//   <data>/mounts/<vault name>.json   the process serving a mount point, and its state
//   <data>/mounts/<vault name>.log    a daemon's output
//   <vault dir>/atefs.pid             the lock of a vault directory
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../run.js';
import { mountsDir, shown, vaultNameFor } from './paths.js';
import { writeFileAtomic } from '../../core/files.js';

export type MountState = 'starting' | 'mounted' | 'unmounting';

export interface MountRecord {
  readonly pid: number;
  readonly mountPoint: string;
  readonly vaultDir?: string;
  readonly state: MountState;
  readonly daemon: boolean;
  readonly started: string;
}

export function recordPaths(dataDir: string, mountPoint: string): { record: string; log: string } {
  const base = join(mountsDir(dataDir), vaultNameFor(mountPoint));
  return { record: `${base}.json`, log: `${base}.log` };
}

/** Whether `pid` is a live atefs process (not a recycled pid of something else). */
export async function isAtefsAlive(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('atefs');
  } catch {
    return false;
  }
}

export async function readRecord(path: string): Promise<MountRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(path, 'utf8')) as MountRecord;
    return typeof r?.pid === 'number' && typeof r.mountPoint === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

export async function writeRecord(path: string, record: MountRecord): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify(record)}\n`);
}

export async function removeFile(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** Takes the lock of a vault directory for this process; refuses when a live atefs holds it. */
export async function lockVault(vaultDir: string, mountPoint: string): Promise<() => Promise<void>> {
  const path = join(vaultDir, 'atefs.pid');
  const mine = `${process.pid}\n${mountPoint}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, mine, { mode: 0o600, flag: 'wx' });
      return async () => {
        // Only our own lock: never remove one another process took over.
        if ((await readFile(path, 'utf8').catch(() => '')) === mine) await removeFile(path);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CliError(`cannot lock the vault ${shown(vaultDir)}: ${(err as Error).message}`);
      }
    }
    const [pidText, other] = (await readFile(path, 'utf8').catch(() => '')).split('\n');
    const pid = Number(pidText);
    if (pid !== process.pid && (await isAtefsAlive(pid))) {
      throw new CliError(
        `the vault ${shown(vaultDir)} is in use by atefs (pid ${pid}${other ? `, mounted at ${shown(other)}` : ''}); unmount it first${other ? ` with: atefs umount ${shown(other)}` : ''}`,
      );
    }
    await removeFile(path); // left by a process that died
  }
  throw new CliError(`cannot lock the vault ${shown(vaultDir)}: another process keeps taking it`);
}
