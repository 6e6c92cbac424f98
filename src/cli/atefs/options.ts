// `atefs mount` options: their definitions for yargs and the checks that turn them into a plan.
import type { Options } from 'yargs';
import { type CompactMode, type ConfiguredFor, parseCompactMode } from '../../core/chain/config.js';
import { ConfigError } from '../../core/errors.js';
import { UsageError } from '../run.js';
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
  /** Time travel: the vault as it was then, read-only. */
  readonly at?: AtSpec;
  /** Remote chains: the AES key size of the wire (0: none). */
  readonly wireEncryption: 0 | 128 | 192 | 256;
  /** Remote chains: the server's expected identity (else pinned on first use). */
  readonly serverFingerprint?: string;
  /** Remote group chains: the auth server that gathers the group's keys (default: the token's issuer). */
  readonly auth?: string;
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
  'write-back': { alias: 'w', type: 'boolean', default: false, group, describe: 'accepted for compatibility: atefs always buffers writes per open file and commits them on flush, fsync, close and a short timer (libfuse 2 has no kernel write-back cache)' },
  'non-empty': { type: 'boolean', default: false, group, describe: 'mount over a directory that is not empty (its contents are hidden while mounted)' },
  'impersonate-uid': {
    alias: 'i',
    type: 'boolean',
    default: false,
    group,
    describe: "token mounts: store the auth server's uid and gid for new files and show them as the local owner's, so your files are yours on every machine",
  },
  'recovery-mode': {
    type: 'string',
    default: 'readonly-async',
    group,
    describe: 'async | readonly-async | readonly-sync | sync: what a remote chain does when its server is unreachable; the sync variants also make every write wait until it is durable',
  },
  'wire-encryption': {
    type: 'string',
    default: '128',
    group,
    describe: 'remote chains: AES key size of the connection, 128 | 192 | 256 (the server may ask for more); --no-wire-encryption sends in the clear (event data stays encrypted)',
  },
  token: {
    alias: 't',
    type: 'string',
    group,
    describe: 'remote chains on an atedb with auth: your token (safer: ATE_TOKEN=... or --token-path, since a command line is visible to other users)',
  },
  'token-path': { type: 'string', group, describe: 'remote chains on an atedb with auth: a file that holds your token (atefs token generate --out <file> writes one)' },
  auth: {
    alias: 'a',
    type: 'string',
    group,
    describe: 'remote group chains: the auth server that gives the group\'s keys, tcp://host[:port] (default: the one that issued the token); --no-auth: the atedb has none (passcode vaults)',
  },
  'server-fingerprint': {
    type: 'string',
    group,
    describe: "remote chains: the atedb's identity fingerprint (atedb fingerprint prints it); without it the first one seen is pinned in ~/.config/ate/known_servers",
  },
  daemon: { type: 'boolean', default: false, group, describe: 'run in the background; stop it with atefs umount <mount-path> (output in <data>/mounts/<vault>.log)' },
  at: {
    type: 'string',
    group,
    describe:
      'time travel: mount the vault read-only as it was at a time (ISO 8601, such as 2024-05-01T12:00:00Z) or right after an event (its id from atefs log: 64 hex digits, or the first 16 or more); the vault must not be mounted meanwhile',
  },
  'compact-now': { type: 'boolean', default: false, group: compaction, describe: 'compact the log when the vault opens' },
  'compact-mode': {
    type: 'string',
    // History is what time travel and atefs log read, and compaction removes it: opt in.
    default: 'never',
    group: compaction,
    describe: 'when compaction runs (it drops old versions, and with them the history that --at and atefs log show): never | modified | timer | factor | size | factor-or-timer | size-or-timer',
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
  wireEncryption: string | boolean;
  serverFingerprint?: string;
  token?: string;
  tokenPath?: string;
  auth?: string | false;
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

/** Where --at points: a moment, or an event (its full id, or the first 16 or more hex digits of it). */
export type AtSpec = { readonly kind: 'time'; readonly time: number } | { readonly kind: 'event'; readonly id: string };

const EVENT_ID = /^[0-9a-f]{16,64}$/i;

/** Parses --at: an event id (16 to 64 hex digits) or a time Date.parse reads (with a digit in it). */
export function parseAt(text: string): AtSpec {
  const t = text.trim();
  if (EVENT_ID.test(t)) return { kind: 'event', id: t.toLowerCase() };
  const ms = /\d/.test(t) ? Date.parse(t) : NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(
      `--at "${text}" is neither a time (such as 2024-05-01T12:00:00Z) nor an event id (64 hex digits, or the first 16 or more that atefs log shows)`,
    );
  }
  return { kind: 'time', time: ms };
}

/** Checks the mount command line; UsageError (exit 2) or NotImplementedError (exit 2) if it cannot work. */
export function planMount(a: MountArgv): MountPlan {
  for (const flag of ['passcode', 'token', 'token-path', 'auth', 'wire-encryption', 'server-fingerprint', 'uid', 'gid', 'recovery-mode', 'at', 'compact-mode', 'compact-timer', 'compact-threshold-factor', 'compact-threshold-size', 'configured-for', 'meta-format', 'data-format']) {
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
    if (url.pathname.length <= 1) throw new UsageError(`"${remote}" names no chain; write it like tcp://host:5000/example.com/joe/files`);
    if (a.temp) throw new UsageError('--temp makes a throw-away vault in memory; a remote chain lives on its server: drop one of them');
    if (a.at !== undefined) throw new UsageError('--at travels in the history of a local vault; it does not work on a remote URL yet');
    if (a.auth === false && (a.token !== undefined || a.tokenPath !== undefined)) throw new UsageError('--no-auth mounts by passcode, which takes no token; drop one of them');
  } else if (a.token !== undefined || a.tokenPath !== undefined) {
    throw new UsageError('a token opens a remote chain (tcp://host:port/<chain>); a local vault is opened by its passcode or key file');
  }
  const wire = a.wireEncryption === false ? '0' : String(a.wireEncryption);
  if (!['0', '128', '192', '256'].includes(wire)) throw new UsageError(`--wire-encryption "${wire}" is not one of 128, 192, 256 (or --no-wire-encryption)`);
  let at: AtSpec | undefined;
  if (a.at !== undefined) {
    at = parseAt(a.at);
    if (a.temp) throw new UsageError('--temp starts from an empty vault, which has no past to travel to; drop one of them');
    if (a.compactNow) throw new UsageError('--at mounts the vault read-only, and --compact-now would rewrite its log; drop one of them');
  }

  return {
    mountPath: absolute(a.mountPath),
    ...(logPath !== undefined ? { logPath: absolute(logPath) } : {}),
    temp: a.temp,
    ...(a.uid !== undefined ? { uid: id('uid', a.uid)! } : {}),
    ...(a.gid !== undefined ? { gid: id('gid', a.gid)! } : {}),
    allowOther: a.allowOther,
    allowRoot: a.allowRoot,
    readOnly: a.readOnly || at !== undefined,
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
    ...(at ? { at } : {}),
    ...(remote !== undefined ? { remote } : {}),
    wireEncryption: Number(wire) as MountPlan['wireEncryption'],
    ...(a.serverFingerprint !== undefined ? { serverFingerprint: a.serverFingerprint } : {}),
    ...(typeof a.auth === 'string' ? { auth: a.auth } : {}),
  };
}
