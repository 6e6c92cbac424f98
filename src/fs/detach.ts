// Detaching a FUSE mount with `fusermount -uz`, without trusting the child's exit to be reported.
//
// fuse-native's own unmount runs fusermount through exec and waits for its exit. Once in a few
// hundred unmounts libuv never reaps that child (it stays a zombie, its exit callback never runs)
// and the unmount hangs forever. So the mount table is watched as well: the mount being gone is
// what the caller waits for.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountAt, throughParent } from './mount-table.js';

const POLL_MS = 50;
/** fusermount is killed (and its failure reported) after this long. */
const FUSERMOUNT_TIMEOUT_MS = 30_000;

/**
 * Lazily detaches the mount at `mnt` (nothing to do when none is there); rejects with fusermount's
 * error line when the mount stays.
 */
export async function detach(mnt: string): Promise<void> {
  const path = await throughParent(mnt);
  if (!(await mountAt(path))) return;
  let exited: { error?: Error } | undefined;
  execFile('fusermount', ['-uz', mnt], { timeout: FUSERMOUNT_TIMEOUT_MS }, (err, _stdout, stderr) => {
    if (!err) exited = {};
    else if ((err as NodeJS.ErrnoException).code === 'ENOENT') exited = { error: new Error('fusermount is not installed (Debian: apt-get install fuse)') };
    else exited = { error: new Error(String(stderr).trim().split('\n').pop() || err.message) };
  });
  const deadline = Date.now() + FUSERMOUNT_TIMEOUT_MS;
  for (;;) {
    if (exited && !exited.error) return;
    if (!(await mountAt(path))) return;
    if (exited?.error) throw exited.error;
    if (Date.now() > deadline) throw new Error(`fusermount -uz ${mnt} did not finish in ${FUSERMOUNT_TIMEOUT_MS / 1000} s`);
    await sleep(POLL_MS);
  }
}
