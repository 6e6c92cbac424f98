// Chain configuration and the profiles of the reference (ConfiguredFor).
import { ConfigError } from '../errors.js';

export type ConfiguredFor =
  | 'raw'
  | 'barebone'
  | 'smallest-size'
  | 'best-performance'
  | 'best-compatibility'
  | 'balanced'
  | 'best-security';

export const PROFILES: readonly ConfiguredFor[] = [
  'raw',
  'barebone',
  'smallest-size',
  'best-performance',
  'best-compatibility',
  'balanced',
  'best-security',
];

export type IntegrityMode = 'centralized' | 'distributed';

/** When compaction runs on its own (see compaction/triggers.ts). */
export type CompactMode =
  | { readonly kind: 'never' }
  | { readonly kind: 'modified' }
  | { readonly kind: 'timer'; readonly intervalMs: number }
  | { readonly kind: 'factor'; readonly growth: number }
  | { readonly kind: 'size'; readonly bytes: number }
  | { readonly kind: 'factor-or-timer'; readonly growth: number; readonly intervalMs: number }
  | { readonly kind: 'size-or-timer'; readonly bytes: number; readonly intervalMs: number };

export interface ChainConfig {
  readonly configuredFor: ConfiguredFor;
  /** Directory of redo logs; undefined keeps the chain in memory. */
  readonly logPath: string | undefined;
  /** In memory only, gone when closed. */
  readonly temporal: boolean;
  /** Start from an empty log. */
  readonly truncate: boolean;
  readonly integrity: IntegrityMode;
  /** How far in the future an event's timestamp may lie. */
  readonly timeToleranceMs: number;
  readonly compactMode: CompactMode;
  /** Compact once when the chain opens. */
  readonly compactBootstrap: boolean;
  /** How much history compaction keeps no matter what: events newer than now minus this. */
  readonly syncToleranceMs: number;
  readonly disableNewRoots: boolean;
  /** Bytes of event data kept in the read cache. */
  readonly loadCacheBytes: number;
  /** Non-durable writes reach the OS within this many milliseconds. */
  readonly lazyFlushMs: number;
  /** Signature groups start at most this often; a proof follows its events within about this plus one signing time. */
  readonly signIntervalMs: number;
}

export const DEFAULT_CONFIG: ChainConfig = {
  configuredFor: 'balanced',
  logPath: undefined,
  temporal: false,
  truncate: false,
  integrity: 'distributed',
  timeToleranceMs: 2000,
  compactMode: { kind: 'never' },
  compactBootstrap: false,
  syncToleranceMs: 30_000,
  disableNewRoots: false,
  loadCacheBytes: 32 * 1024 * 1024,
  lazyFlushMs: 20,
  signIntervalMs: 25,
};

/** Time tolerance per profile, as in the reference. */
export function profileTolerance(p: ConfiguredFor): number {
  if (p === 'best-performance') return 4000;
  if (p === 'best-security') return 1000;
  return 2000;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new ConfigError(`"${text}" is not a duration; write it like 500ms, 30s, 15m, 1h or 2d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;

export function parseSize(text: string): number {
  const m = SIZE.exec(text.trim());
  if (!m) throw new ConfigError(`"${text}" is not a size; write it like 4096, 64KiB, 100MiB or 2GiB`);
  const unit = (m[2] ?? 'b').toLowerCase()[0] as 'b' | 'k' | 'm' | 'g';
  return Math.round(Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]);
}

/**
 * Parses the compaction flags of the reference: never, modified, timer, factor, size,
 * factor-or-timer, size-or-timer, with defaults 1 h, 0.2 and 100 MiB.
 */
export function parseCompactMode(mode: string, opts: { interval?: string; growth?: number; size?: string } = {}): CompactMode {
  const intervalMs = opts.interval ? parseDuration(opts.interval) : 3_600_000;
  const growth = opts.growth ?? 0.2;
  const bytes = opts.size ? parseSize(opts.size) : 100 * 1024 * 1024;
  if (!(growth > 0)) throw new ConfigError(`compaction growth factor must be above 0, got ${growth}`);
  switch (mode) {
    case 'never':
      return { kind: 'never' };
    case 'modified':
      return { kind: 'modified' };
    case 'timer':
      return { kind: 'timer', intervalMs };
    case 'factor':
      return { kind: 'factor', growth };
    case 'size':
      return { kind: 'size', bytes };
    case 'factor-or-timer':
      return { kind: 'factor-or-timer', growth, intervalMs };
    case 'size-or-timer':
      return { kind: 'size-or-timer', bytes, intervalMs };
    default:
      throw new ConfigError(`unknown compaction mode "${mode}"; use never, modified, timer, factor, size, factor-or-timer or size-or-timer`);
  }
}
