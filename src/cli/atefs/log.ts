// `atefs log <mount-path> [log-path]`: the history of a vault, one line per filesystem operation,
// oldest first. The vault is found and opened as `atefs mount` does (key file or passcode), and its
// chain is replayed read-only; it must not be mounted meanwhile (one process per log, for now).
//
//   2024-05-01T12:00:00.123Z  4c5138e9da1d4782  create       0bff-cd59-eb90-1391  /notes.txt
//   2024-05-01T12:00:05.456Z  66550bf91d4ef8b2  rename       0bff-cd59-eb90-1391  /notes.txt -> /old/notes.txt
//
// Columns: the time of the commit (UTC), the first 16 hex digits of its last event's id (give them
// to mount --at to see the filesystem right after the operation), the operation, who signed it
// (the author, else the fingerprint of the signing key), and the path, last since it may hold
// spaces. --json prints one JSON object per line instead, with the full event id.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Chain } from '../../core/chain/chain.js';
import { type FsHistoryEntry, fsHistory } from '../../fs/history.js';
import { CliError, UsageError } from '../run.js';
import { EVERYTHING, iso, needsUnmounted } from './history.js';
import { canonicalMountPoint } from './mounts.js';
import { PROFILE_ALIASES } from './options.js';
import { ateDataDir, absolute, checkPathText, shown, vaultNameFor } from './paths.js';
import { canPrompt, promptHidden } from './prompt.js';
import { lockVault } from './registry.js';
import { givenPasscode, vaultChainBuilder, vaultSession } from './serve.js';
import { CHAIN_NAME, LOG_NAME, obtainPasscode, openVault, readVaultMeta } from './vault.js';

/** The arguments yargs hands the log command (its options are defined in atefs.ts). */
export interface LogArgv {
  mountPath: string;
  logPath?: string;
  passcode?: string;
  limit?: number;
  json: boolean;
  configuredFor: string;
}

// Names with control characters would break the one-line-per-operation format: shown as JSON strings.
const CONTROL = /[\u0000-\u001f\u007f]/;
const quoted = (p: string): string => (CONTROL.test(p) || p.includes(' -> ') ? JSON.stringify(p) : p);

export function formatEntry(e: FsHistoryEntry, json: boolean): string {
  if (json) {
    return JSON.stringify({ time: iso(e.time), eventId: e.eventId, op: e.op, path: e.path, ...(e.from !== undefined ? { from: e.from } : {}), identity: e.identity });
  }
  const path = e.from !== undefined ? `${quoted(e.from)} -> ${quoted(e.path)}` : quoted(e.path);
  return `${iso(e.time)}  ${e.eventId.slice(0, 16)}  ${e.op.padEnd(11)}  ${e.identity.padEnd(19)}  ${path}`;
}

export async function showLog(a: LogArgv): Promise<number> {
  for (const flag of ['passcode', 'limit', 'configuredFor'] as const) {
    if (Array.isArray(a[flag])) throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} was given ${(a[flag] as unknown[]).length} times; give it once`);
  }
  checkPathText('mount path', a.mountPath);
  if (a.logPath !== undefined) checkPathText('log path', a.logPath);
  if (a.limit !== undefined && !(Number.isInteger(a.limit) && a.limit > 0)) throw new UsageError(`--limit takes a whole number above 0 (got ${String(a.limit)})`);
  if (a.passcode === '') throw new UsageError('--passcode is empty; give the passcode of the vault, or leave the flag out for a key file');
  const profile = PROFILE_ALIASES[a.configuredFor];
  if (!profile) throw new UsageError(`--configured-for "${a.configuredFor}" is not one of ${Object.keys(PROFILE_ALIASES).join(', ')}`);

  const mountPoint = await canonicalMountPoint(a.mountPath);
  const dir = a.logPath !== undefined ? absolute(a.logPath) : join(ateDataDir(), vaultNameFor(mountPoint));
  const meta = await readVaultMeta(dir);
  if (!meta) {
    const hasLog = await access(join(dir, LOG_NAME)).then(
      () => true,
      () => false,
    );
    if (!hasLog) throw new CliError(`there is no vault for ${shown(mountPoint)} (looked in ${shown(dir)}): it has no history`);
  }
  const obtained = await obtainPasscode(dir, mountPoint, meta, givenPasscode(a.passcode), canPrompt() ? promptHidden : undefined);
  let release: (() => Promise<void>) | undefined;
  let chain: Chain | undefined;
  try {
    release = await lockVault(dir, mountPoint).catch((err: unknown) => {
      throw needsUnmounted(err, 'atefs log');
    });
    const vault = await openVault(dir, mountPoint, meta, obtained, { readOnly: true });
    const builder = vaultChainBuilder({ temp: false, compactMode: { kind: 'never' }, compactBootstrap: false, configuredFor: profile }, vault).onWarning((m) =>
      console.error(`atefs: warning: ${m}`),
    );
    chain = await builder.openAt(CHAIN_NAME, EVERYTHING).catch((err: unknown) => {
      throw needsUnmounted(err, 'atefs log');
    });

    let broken = false;
    process.stdout.on('error', () => (broken = true)); // atefs log | head
    const write = async (line: string): Promise<void> => {
      if (broken || process.stdout.write(`${line}\n`)) return;
      await new Promise<void>((resolve) => {
        process.stdout.once('drain', resolve);
        process.stdout.once('error', () => resolve());
      });
    };
    const last: FsHistoryEntry[] = [];
    let count = 0;
    for await (const e of fsHistory(chain, vaultSession(vault))) {
      count++;
      if (a.limit !== undefined) {
        last.push(e);
        if (last.length > a.limit) last.shift();
      } else await write(formatEntry(e, a.json));
      if (broken) break;
    }
    for (const e of last) {
      if (broken) break;
      await write(formatEntry(e, a.json));
    }
    if (count === 0) console.error(`atefs: the vault at ${shown(mountPoint)} has no filesystem history yet`);
    return 0;
  } finally {
    await chain?.close().catch(() => undefined);
    await release?.();
  }
}
