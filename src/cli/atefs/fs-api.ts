// The filesystem's entry point, loaded lazily so that `atefs --help` and argument errors never pay
// for (or depend on) the FUSE binding.
export type { MountOptions, MountedFs } from '../../fs/index.js';

export async function loadMountFs(): Promise<(typeof import('../../fs/index.js'))['mountFs']> {
  return (await import('../../fs/index.js')).mountFs;
}
