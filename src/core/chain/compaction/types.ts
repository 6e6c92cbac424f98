// The compactor extension point. Compaction walks the log newest to oldest and asks every
// compactor for a vote on each event; the votes are tallied (voting.ts) and the walk repeats
// until the set of kept events stops changing.
import type { EventId } from '../../event/ids.js';
import { AteError } from '../../errors.js';
import type { IngestEvent } from '../plugins.js';

/**
 * force-keep beats everything; force-drop beats keep and drop; keep beats drop. An event every
 * compactor abstains on is kept: no compactor understood it, so none may destroy it.
 */
export type Vote = 'force-keep' | 'force-drop' | 'keep' | 'drop' | 'abstain';

/**
 * An event as compactors see it: id, metadata, position and time, but not its data (as in the
 * reference, compactors judge headers; holding every payload would put the whole log in memory).
 */
export interface CompactionEvent extends Omit<IngestEvent, 'bytes'> {
  /** Position in the log: 0 is the oldest event. */
  readonly ordinal: number;
  /** Its timestamp; events without one (proofs) take the last timestamp before them. */
  readonly timestamp: number;
}

/** What one pass over the log knows before it starts. */
export interface PassContext {
  /** Every event being compacted, oldest first (events[i].ordinal === i). */
  readonly events: readonly CompactionEvent[];
  /** Whether the previous pass kept this event (the first pass starts from "nothing kept"). */
  kept(ordinal: number): boolean;
  /** The ordinal of an event, or -1 when it is not among the events being compacted. */
  ordinalOf(id: EventId): number;
}

/** One pass of one compactor: it is fed every event newest to oldest, once. */
export interface CompactorRun {
  vote(event: CompactionEvent, keptSoFar: boolean): Vote;
}

export interface Compactor {
  readonly name: string;
  /** A run with fresh state for one pass. */
  fresh(pass: PassContext): CompactorRun;
}

export interface CompactionStats {
  /** Events in the log before and after. */
  readonly before: number;
  readonly after: number;
  /** Events the compactors voted out. */
  readonly dropped: number;
  /** Events the compactors kept but the chain's validators refused when the kept history was replayed. */
  readonly refused: number;
  /** Log bytes (framing included) before and after. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** The new cut-off written in the log header. */
  readonly cutOff: number;
  readonly ms: number;
}

/** Compaction could not finish; the log is unchanged. */
export class CompactionError extends AteError {
  override readonly code = 'COMPACTION';
}
