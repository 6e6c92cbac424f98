// The kernel's mount table (/proc/self/mountinfo), read asynchronously: it is also read inside the
// process that serves a FUSE mount.
import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  /** The device's major:minor, which names its backing device info in /sys/class/bdi. */
  readonly device: string;
}

/** Undoes the octal escapes of /proc/self/mountinfo (\040 space, \011 tab, \012 newline, \134 backslash). */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const f = left?.split(' ') ?? [];
    const r = right?.split(' ') ?? [];
    if (f.length < 5 || r.length < 2) continue;
    out.push({ mountPoint: unescape(f[4]!), fsType: r[0]!, source: unescape(r[1]!), device: f[2]! });
  }
  return out;
}

export async function mountTable(): Promise<MountEntry[]> {
  try {
    return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  } catch {
    return [];
  }
}

/** The (last, so topmost) mount at exactly this path. */
export async function mountAt(path: string): Promise<MountEntry | undefined> {
  const all = (await mountTable()).filter((m) => m.mountPoint === path);
  return all[all.length - 1];
}

export const isFuse = (m: MountEntry): boolean => m.fsType === 'fuse' || m.fsType.startsWith('fuse.');

/**
 * An absolute path as the table spells it, with the symlinks of its parent resolved: the path
 * itself is not stat'ed (a dead FUSE mount answers ENOTCONN, a live one would ask its own server).
 */
export async function throughParent(abs: string): Promise<string> {
  try {
    return join(await realpath(dirname(abs)), basename(abs));
  } catch {
    return abs;
  }
}
