// The mount table, mount point checks and fusermount. Everything here is asynchronous: it also runs
// inside the process that serves the FUSE mount, where a synchronous call on the mount deadlocks.
import { execFile } from 'node:child_process';
import { readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { detach } from '../../fs/detach.js';
import { isFuse, mountAt, throughParent } from '../../fs/mount-table.js';
import { CliError } from '../run.js';
import { absolute, shown } from './paths.js';

const execFileAsync = promisify(execFile);

/** Read-ahead of a mount, in KiB: the kernel gives a FUSE mount 128 KiB, one chunk at a time. */
const READ_AHEAD_KB = 1024;

/**
 * Raises a mount's read-ahead so a sequential read keeps several chunk reads in flight (decrypted
 * while the next are read). Only root may; anyone else keeps the kernel's default. The device comes
 * from the mount table, not from a stat of the mount: that would leave the root's attributes in the
 * kernel's cache, and a stat within a second of a kill would not see the mount is dead.
 */
export async function raiseReadAhead(mountPoint: string): Promise<void> {
  const m = await mountAt(mountPoint);
  if (!m) return;
  // Not root, or no sysfs: reads work the same, with the default read-ahead.
  await writeFile(`/sys/class/bdi/${m.device}/read_ahead_kb`, String(READ_AHEAD_KB)).catch(() => undefined);
}

/**
 * The canonical absolute path of a mount point. A dead FUSE mount cannot be stat'ed (ENOTCONN),
 * so its parent is resolved instead.
 */
export async function canonicalMountPoint(p: string): Promise<string> {
  const abs = absolute(p);
  try {
    return await realpath(abs);
  } catch {
    return throughParent(abs);
  }
}

const isNotConnected = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOTCONN';

/** Runs fusermount; the error line it printed when it fails. */
export async function fusermount(args: string[]): Promise<string | undefined> {
  try {
    await execFileAsync('fusermount', args, { timeout: 30_000 });
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return 'fusermount is not installed (apt-get install fuse)';
    return (e.stderr ?? '').trim().split('\n').pop() || e.message;
  }
}

/** Whether the path is a FUSE mount whose process is gone ("Transport endpoint is not connected"). */
export async function isStaleMount(path: string): Promise<boolean> {
  try {
    await stat(path);
    return false;
  } catch (err) {
    return isNotConnected(err);
  }
}

/** Detaches a dead FUSE mount (lazily, so that nothing that still holds it blocks the cleanup). */
export async function cleanStaleMount(path: string): Promise<void> {
  await detach(path).catch((err: unknown) => {
    throw new CliError(`${shown(path)} is a dead mount left by a killed atefs, and removing it failed (${(err as Error).message}); try: fusermount -uz ${path}`);
  });
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes; whether it became true. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Checks that `path` (canonical) can take a mount: it exists, is a directory, is empty unless
 * `nonEmpty`, and is not mounted already. Calls `onStale` after cleaning a dead mount.
 */
export async function checkMountPoint(path: string, opts: { nonEmpty: boolean; onStale: (path: string) => void }): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new CliError(`${shown(path)} does not exist: create it with mkdir -p ${shown(path)}`);
    if (e.code === 'ENOTDIR') throw new CliError(`${shown(path)} cannot be a mount point: a part of its path is a file, not a directory`);
    if (e.code === 'ENOTCONN') {
      await cleanStaleMount(path);
      opts.onStale(path);
      return checkMountPoint(path, opts);
    }
    throw new CliError(`cannot use ${shown(path)} as a mount point: ${e.message}`);
  }
  if (!st.isDirectory()) throw new CliError(`${shown(path)} is not a directory; a mount point must be an (empty) directory`);
  const there = await mountAt(path);
  if (there && isFuse(there)) {
    throw new CliError(`${shown(path)} is already mounted; unmount it first with: atefs umount ${shown(path)}`);
  }
  if (!opts.nonEmpty) {
    let names: string[];
    try {
      names = await readdir(path);
    } catch (err) {
      throw new CliError(`cannot list ${shown(path)}: ${(err as Error).message}`);
    }
    if (names.length > 0) {
      throw new CliError(`${shown(path)} is not empty (${names.length} entr${names.length === 1 ? 'y' : 'ies'}); mount on an empty directory, or add --non-empty to hide its contents while mounted`);
    }
  }
}
