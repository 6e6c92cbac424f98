// Detaching a FUSE mount with `fusermount -uz`, without trusting the child's exit to be reported.
//
// fuse-native's own unmount runs fusermount through exec and waits for its exit. Once in a few
// hundred unmounts libuv never reaps that child (it stays a zombie, its exit callback never runs)
// and the unmount hangs forever. So the mount table is watched as well: the mount being gone is
// what the caller waits for.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountAt } from './mount-table.js';

const POLL_MS = 50;
/** fusermount is killed (and its failure reported) after this long. */
const FUSERMOUNT_TIMEOUT_MS = 30_000;

/** Lazily detaches the mount at `mnt`; rejects with fusermount's error line when the mount stays. */
export async function detach(mnt: string): Promise<void> {
  // A path the table spells differently (a symlink on the way) is only ever waited on through the child.
  const listed = (await mountAt(mnt)) !== undefined;
  let exited: { error?: Error } | undefined;
  execFile('fusermount', ['-uz', mnt], { timeout: FUSERMOUNT_TIMEOUT_MS }, (err, _stdout, stderr) => {
    exited = err ? { error: new Error(String(stderr).trim().split('\n').pop() || err.message) } : {};
  });
  const deadline = Date.now() + FUSERMOUNT_TIMEOUT_MS;
  for (;;) {
    if (exited && !exited.error) return;
    if (listed && !(await mountAt(mnt))) return;
    if (exited?.error) throw exited.error;
    if (Date.now() > deadline) throw new Error(`fusermount -uz ${mnt} did not finish in ${FUSERMOUNT_TIMEOUT_MS / 1000} s`);
    await sleep(POLL_MS);
  }
}
