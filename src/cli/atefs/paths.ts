// Where atefs keeps things: the XDG data directory, vault names derived from mount points, and
// paths shown to the user (home as ~).
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { hash, toHex } from '../../core/crypto/hash.js';
import { UsageError } from '../run.js';

/** $XDG_DATA_HOME/ate, or ~/.local/share/ate (a relative XDG_DATA_HOME is ignored, as the spec says). */
export function ateDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_DATA_HOME'];
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'share');
  return join(base, 'ate');
}

/**
 * The name of the vault of a mount point: "vault-" and the first 8 hex digits of the SHA-256 of
 * its absolute path, so that two mount points never share a vault.
 */
export function vaultNameFor(absMountPoint: string): string {
  return `vault-${toHex(hash(new TextEncoder().encode(absMountPoint))).slice(0, 8)}`;
}

/** Directory of the files that describe live mounts (pid, state, daemon log), one set per mount point. */
export const mountsDir = (dataDir: string): string => join(dataDir, 'mounts');

/** ~ at the start of a path means the home directory (for paths quoted so the shell left them alone). */
export function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return p;
}

/** The absolute form of a path the user typed. */
export const absolute = (p: string): string => resolve(expandHome(p));

/** A path as shown to the user: the home directory as ~. */
export function shown(p: string): string {
  const home = homedir();
  if (home && home !== '/' && (p === home || p.startsWith(`${home}/`))) return `~${p.slice(home.length)}`;
  return p;
}

// Control characters (newline, tab, escape...) make a path ambiguous in /proc/mounts, in logs and
// on a terminal; nobody means them.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Refuses a path that no user means: empty, with control characters, or too long for Linux. */
export function checkPathText(what: string, p: string): void {
  if (p.length === 0) throw new UsageError(`the ${what} is empty`);
  if (CONTROL.test(p)) {
    throw new UsageError(`the ${what} ${JSON.stringify(p)} contains a control character (newline, tab, escape...); choose a name without one`);
  }
  if (Buffer.byteLength(p) >= 4096) throw new UsageError(`the ${what} is longer than Linux allows (4095 bytes)`);
  for (const part of p.split('/')) {
    if (Buffer.byteLength(part) > 255) throw new UsageError(`the ${what} has a name longer than 255 bytes: ${part.slice(0, 40)}...`);
  }
}
