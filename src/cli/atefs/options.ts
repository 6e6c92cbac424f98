// `atefs mount` options: their definitions for yargs and the checks that turn them into a plan.
import type { Options } from 'yargs';
import { type CompactMode, type ConfiguredFor, parseCompactMode } from '../../core/chain/config.js';
import { ConfigError } from '../../core/errors.js';
import { CliError, EXIT_USAGE, NotImplementedError, UsageError } from '../run.js';
import { absolute, checkPathText } from './paths.js';

export const RECOVERY_MODES = ['async', 'readonly-async', 'readonly-sync', 'sync'] as const;
export type RecoveryMode = (typeof RECOVERY_MODES)[number];

export const COMPACT_MODES = ['never', 'immutable', 'modified', 'timer', 'factor', 'size', 'factor-or-timer', 'size-or-timer'] as const;

/** --configured-for values and the profile each one means (the reference's aliases included). */
export const PROFILE_ALIASES: Record<string, ConfiguredFor> = {
  raw: 'raw',
  barebone: 'barebone',
  'best-performance': 'best-performance',
  performance: 'best-performance',
  speed: 'best-performance',
  'best-compatibility': 'best-compatibility',
  compatibility: 'best-compatibility',
  balanced: 'balanced',
  'best-security': 'best-security',
  security: 'best-security',
  'smallest-size': 'smallest-size',
};

export const FORMATS: Record<string, string> = { json: 'json', mpack: 'mpack', messagepack: 'mpack', msgpack: 'mpack', bincode: 'bincode', bc: 'bincode' };

/** Everything `atefs mount` was asked to do, checked; plain data (it travels to a daemon as JSON). */
export interface MountPlan {
  readonly mountPath: string;
  readonly remote?: string;
  readonly logPath?: string;
  readonly temp: boolean;
  readonly uid?: number;
  readonly gid?: number;
  readonly allowOther: boolean;
  readonly allowRoot: boolean;
  readonly readOnly: boolean;
  readonly writeBack: boolean;
  readonly nonEmpty: boolean;
  readonly impersonateUid: boolean;
  readonly recoveryMode: RecoveryMode;
  readonly scope: 'local' | 'full';
  readonly compactBootstrap: boolean;
  readonly compactMode: CompactMode;
  readonly configuredFor: ConfiguredFor;
  readonly daemon: boolean;
  readonly verbose: number;
}

const group = 'Mount options:';
const compaction = 'Compaction:';
const storage = 'Chain:';

export const mountOptions = {
  passcode: {
    alias: 'p',
    type: 'string',
    group,
    describe:
      'passcode that encrypts the vault (scrypt with a salt kept in vault.json); safer: ATE_PASSCODE=... or the prompt, since a command line is visible to other users',
  },
  temp: { type: 'boolean', default: false, group, describe: 'keep the chain in memory only: a throw-away vault with a random key, gone on unmount' },
  uid: { alias: 'u', type: 'string', group, describe: 'user id that owns the files (FUSE uid=)' },
  gid: { alias: 'g', type: 'string', group, describe: 'group id that owns the files (FUSE gid=)' },
  'allow-other': { type: 'boolean', default: false, group, describe: 'let other users use the mount (needs user_allow_other in /etc/fuse.conf unless root)' },
  'allow-root': { type: 'boolean', default: false, group, describe: 'let root use the mount' },
  'read-only': { alias: 'r', type: 'boolean', default: false, group, describe: 'mount read-only' },
  'write-back': { alias: 'w', type: 'boolean', default: false, group, describe: "use the kernel's write-back cache" },
  'non-empty': { type: 'boolean', default: false, group, describe: 'mount over a directory that is not empty (its contents are hidden while mounted)' },
  'impersonate-uid': {
    alias: 'i',
    type: 'boolean',
    default: false,
    group,
    describe: "show files of the logged-in user as the local caller's (takes effect with the auth issue; accepted and ignored until then)",
  },
  'recovery-mode': {
    type: 'string',
    default: 'readonly-async',
    group,
    describe: 'async | readonly-async | readonly-sync | sync: what a remote chain does when its server is unreachable; the sync variants also make every write wait until it is durable',
  },
  daemon: { type: 'boolean', default: false, group, describe: 'run in the background; stop it with atefs umount <mount-path> (output in <data>/mounts/<vault>.log)' },
  at: { type: 'string', group, describe: 'time travel: mount the chain read-only as it was at a time (ISO 8601) or an event id (not implemented yet)' },
  'compact-now': { type: 'boolean', default: false, group: compaction, describe: 'compact the log when the vault opens' },
  'compact-mode': {
    type: 'string',
    default: 'factor-or-timer',
    group: compaction,
    describe: 'when compaction runs: never | modified | timer | factor | size | factor-or-timer | size-or-timer',
  },
  'compact-timer': { type: 'string', default: '3600', group: compaction, describe: 'timer of the compact mode: seconds, or 30m, 1h, 2d' },
  'compact-threshold-factor': { type: 'number', default: 0.4, group: compaction, describe: 'compact when the log grew by this factor since the last compaction' },
  'compact-threshold-size': { type: 'string', default: '100MiB', group: compaction, describe: 'compact when the log grew by this many bytes (104857600, 100MiB, 1GiB)' },
  'configured-for': {
    type: 'string',
    default: 'best-performance',
    group: storage,
    describe:
      'chain profile: raw | barebone | best-performance (speed, performance) | best-compatibility (compatibility) | balanced | best-security (security) | smallest-size',
  },
  'meta-format': {
    type: 'string',
    group: storage,
    describe: 'json | mpack | bincode: accepted for compatibility with the original; ATE-TS stores msgpack, one fixed format',
  },
  'data-format': {
    type: 'string',
    group: storage,
    describe: 'json | mpack | bincode: accepted for compatibility with the original; ATE-TS stores msgpack, one fixed format',
  },
  'daemon-child': { type: 'boolean', default: false, hidden: true },
} satisfies Record<string, Options>;

/** The arguments yargs hands the mount command. */
export interface MountArgv {
  mountPath: string;
  remote?: string;
  logPath?: string;
  passcode?: string;
  temp: boolean;
  uid?: string;
  gid?: string;
  allowOther: boolean;
  allowRoot: boolean;
  readOnly: boolean;
  writeBack: boolean;
  nonEmpty: boolean;
  impersonateUid: boolean;
  recoveryMode: string;
  daemon: boolean;
  at?: string;
  compactNow: boolean;
  compactMode: string;
  compactTimer: string;
  compactThresholdFactor: number;
  compactThresholdSize: string;
  configuredFor: string;
  metaFormat?: string;
  dataFormat?: string;
  verbose?: number;
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

function oneOf(flag: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) throw new UsageError(`--${flag} "${value}" is not one of ${allowed.join(', ')}`);
}

function id(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 0xfffffffe) throw new UsageError(`--${flag} "${value}" is not a numeric ${flag} (0 to 4294967294)`);
  return Number(value);
}

function single(flag: string, value: unknown): void {
  if (Array.isArray(value)) throw new UsageError(`--${flag} was given ${value.length} times; give it once`);
}

const EVENT_ID = /^[0-9a-f]{64}$/i;

/** Checks the mount command line; UsageError (exit 2) or NotImplementedError (exit 2) if it cannot work. */
export function planMount(a: MountArgv): MountPlan {
  for (const flag of ['passcode', 'uid', 'gid', 'recovery-mode', 'at', 'compact-mode', 'compact-timer', 'compact-threshold-factor', 'compact-threshold-size', 'configured-for', 'meta-format', 'data-format']) {
    single(flag, (a as unknown as Record<string, unknown>)[flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())]);
  }
  checkPathText('mount path', a.mountPath);
  // The second argument is a remote URL or, when it is not one, the log path (the original could
  // not take a log path without a URL).
  let remote = a.remote;
  let logPath = a.logPath;
  if (remote !== undefined && !URL_LIKE.test(remote)) {
    if (logPath !== undefined) throw new UsageError(`"${remote}" is not a URL (tcp://host[:port]/chain); give a remote URL before the log path`);
    logPath = remote;
    remote = undefined;
  }
  if (logPath !== undefined) checkPathText('log path', logPath);
  if (a.temp && logPath !== undefined) throw new UsageError('--temp keeps the chain in memory, so it takes no log path; drop one of them');
  if (a.temp && a.passcode !== undefined) throw new UsageError('--temp makes a throw-away vault with a random key, so it takes no passcode; drop one of them');
  if (a.passcode === '') throw new UsageError('--passcode is empty; give a passcode, or leave the flag out to use a key file');
  if (a.allowOther && a.allowRoot) throw new UsageError('--allow-other already lets root in; give --allow-other or --allow-root, not both');
  if (a.temp && a.readOnly) throw new UsageError('--temp starts from an empty vault, which --read-only would keep empty; drop one of them');

  oneOf('recovery-mode', a.recoveryMode, RECOVERY_MODES);
  const profile = PROFILE_ALIASES[a.configuredFor];
  if (!profile) throw new UsageError(`--configured-for "${a.configuredFor}" is not one of ${Object.keys(PROFILE_ALIASES).join(', ')}`);
  for (const [flag, v] of [
    ['meta-format', a.metaFormat],
    ['data-format', a.dataFormat],
  ] as const) {
    if (v !== undefined && !FORMATS[v]) throw new UsageError(`--${flag} "${v}" is not one of json, mpack, bincode`);
  }
  oneOf('compact-mode', a.compactMode, COMPACT_MODES);
  if (!Number.isFinite(a.compactThresholdFactor) || a.compactThresholdFactor <= 0) {
    throw new UsageError(`--compact-threshold-factor must be a number above 0 (such as 0.4)`);
  }
  let compactMode: CompactMode;
  try {
    compactMode = parseCompactMode(a.compactMode === 'immutable' ? 'never' : a.compactMode, {
      interval: a.compactTimer,
      growth: a.compactThresholdFactor,
      size: a.compactThresholdSize,
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }

  if (remote !== undefined) {
    let url: URL;
    try {
      url = new URL(remote);
    } catch {
      throw new UsageError(`"${remote}" is not a valid URL; write it like tcp://host:5000/chain`);
    }
    if (url.protocol !== 'tcp:') throw new UsageError(`"${remote}": atefs speaks tcp:// only; write it like tcp://host:5000/chain`);
    checkPathText('chain name in the URL', decodeURIComponent(url.pathname));
    throw new CliError(`remote chains (${url.protocol}//${url.host}${url.pathname}) come with the atedb issue; not implemented yet (leave out the URL to mount a local vault)`, EXIT_USAGE);
  }
  if (a.at !== undefined) {
    const t = a.at.trim();
    if (!EVENT_ID.test(t) && !(/\d/.test(t) && Number.isFinite(Date.parse(t)))) {
      throw new UsageError(`--at "${a.at}" is neither a time (such as 2024-05-01T12:00:00Z) nor an event id (64 hex digits)`);
    }
    throw new NotImplementedError('time travel (--at)');
  }

  return {
    mountPath: absolute(a.mountPath),
    ...(logPath !== undefined ? { logPath: absolute(logPath) } : {}),
    temp: a.temp,
    ...(a.uid !== undefined ? { uid: id('uid', a.uid)! } : {}),
    ...(a.gid !== undefined ? { gid: id('gid', a.gid)! } : {}),
    allowOther: a.allowOther,
    allowRoot: a.allowRoot,
    readOnly: a.readOnly,
    writeBack: a.writeBack,
    nonEmpty: a.nonEmpty,
    impersonateUid: a.impersonateUid,
    recoveryMode: a.recoveryMode as RecoveryMode,
    scope: a.recoveryMode === 'sync' || a.recoveryMode === 'readonly-sync' ? 'full' : 'local',
    compactBootstrap: a.compactNow,
    compactMode,
    configuredFor: profile,
    daemon: a.daemon,
    verbose: a.verbose ?? 0,
  };
}
