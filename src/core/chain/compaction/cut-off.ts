// The cut-off: events at or after it are kept whatever the others vote, because peers that sync
// from a recent point in time may still need them (and the tombstones among them).
import type { CompactionEvent, Compactor, CompactorRun, Vote } from './types.js';

export function cutOffCompactor(cutOff: number): Compactor {
  const run: CompactorRun = { vote: (e: CompactionEvent): Vote => (e.timestamp >= cutOff ? 'force-keep' : 'abstain') };
  return { name: 'cut-off', fresh: () => run };
}

/**
 * The reference's cut-off: never lower than the previous one (history before it is gone), never
 * later than now minus the sync tolerance, and never past the end of the history: peers resume
 * from the cut-off, and an event that arrives later with an older timestamp must not fall before it.
 */
export function nextCutOff(previous: number, now: number, syncToleranceMs: number, newest: number): number {
  // Whole milliseconds: the log header stores an integer (a stamp may have a fraction).
  const end = newest > 0 ? Math.floor(newest) + 1 : 0;
  return Math.max(previous, Math.min(now - syncToleranceMs, end));
}
