// `atefs umount <dir>`: asks the atefs serving the mount (foreground or daemon) to flush and exit,
// and waits until it has; a mount whose process is gone is removed with fusermount.
import { CliError } from '../run.js';
import { detach } from '../../fs/detach.js';
import { isFuse, mountAt } from '../../fs/mount-table.js';
import { canonicalMountPoint, fusermount, isStaleMount, waitFor } from './mounts.js';
import { ateDataDir, checkPathText, shown } from './paths.js';
import { isAtefsAlive, readRecord, recordPaths, removeFile } from './registry.js';

/** `waitS`: how long to wait for the flush before giving up waiting (the process goes on flushing). */
export async function umount(path: string, waitS = 120): Promise<number> {
  const FLUSH_WAIT_MS = waitS * 1000;
  checkPathText('mount path', path);
  const mountPoint = await canonicalMountPoint(path);
  const paths = recordPaths(ateDataDir(), mountPoint);
  const record = await readRecord(paths.record);

  if (record && (await isAtefsAlive(record.pid))) {
    const pid = record.pid;
    try {
      process.kill(pid, 'SIGTERM');
    } catch (err) {
      throw new CliError(`cannot stop atefs (pid ${pid}) serving ${shown(mountPoint)}: ${(err as Error).message}`);
    }
    const note = setTimeout(() => console.error(`atefs: waiting for atefs (pid ${pid}) to flush the vault and unmount ${shown(mountPoint)}...`), 2000);
    const gone = await waitFor(async () => !(await isAtefsAlive(pid)), FLUSH_WAIT_MS);
    clearTimeout(note);
    if (!gone) {
      throw new CliError(
        `atefs (pid ${pid}) is still flushing ${shown(mountPoint)} after ${Math.round(FLUSH_WAIT_MS / 1000)} s; it goes on in the background: run atefs umount ${shown(mountPoint)} again to wait for it`,
      );
    }
    const left = await mountAt(mountPoint);
    if (left && isFuse(left)) {
      // It died without unmounting (killed while flushing): remove what it left.
      await detach(mountPoint).catch(() => undefined);
      console.error(`atefs: atefs (pid ${pid}) ended without unmounting ${shown(mountPoint)}; removed the mount`);
      return 1;
    }
    console.log(`atefs: unmounted ${shown(mountPoint)}`);
    return 0;
  }

  // No live atefs: a mount left by one that died, a mount whose process we do not know, or nothing.
  if (record) await removeFile(paths.record);
  const entry = await mountAt(mountPoint);
  if (!entry) throw new CliError(`${shown(mountPoint)} is not mounted`);
  if (!isFuse(entry)) throw new CliError(`${shown(mountPoint)} is not an atefs mount (it is ${entry.fsType}); use umount(8)`);
  const stale = await isStaleMount(mountPoint);
  let failure = await fusermount(['-u', mountPoint]);
  if (failure && stale) failure = await detach(mountPoint).then(() => undefined, (err: unknown) => (err as Error).message);
  if (failure) throw new CliError(`cannot unmount ${shown(mountPoint)}: ${failure}`);
  if (stale) console.log(`atefs: removed the dead mount at ${shown(mountPoint)} (the atefs serving it had been killed)`);
  else {
    // A live FUSE mount without our record (started with another XDG_DATA_HOME, say): its atefs
    // sees the mount go away and flushes on its own.
    console.log(`atefs: unmounted ${shown(mountPoint)}`);
  }
  return 0;
}
