// When a compaction mode (config.compactMode) asks for a compaction, as in the reference's
// compact_state.rs. The scheduler (scheduler.ts) does the waiting.
import type { CompactMode } from '../config.js';

/** The reference ignores growth factors below this log size: small logs are cheap as they are. */
export const FACTOR_FLOOR_BYTES = 2 * 1024 * 1024;

/** The interval of the timer modes. */
export function intervalOf(mode: CompactMode): number | undefined {
  return 'intervalMs' in mode ? mode.intervalMs : undefined;
}

/** Whether the mode reacts to writes (and the scheduler must watch them). */
export function watchesWrites(mode: CompactMode): boolean {
  return mode.kind === 'modified' || 'growth' in mode || 'bytes' in mode;
}

/**
 * Whether the log grew enough since the last compaction: by `growth` times its size then (and past
 * the floor), or by `bytes`.
 */
export function grownEnough(mode: CompactMode, size: number, baseline: number, floorBytes: number): boolean {
  if ('growth' in mode) return size >= floorBytes && size >= baseline * (1 + mode.growth);
  if ('bytes' in mode) return size - baseline >= mode.bytes;
  return false;
}
