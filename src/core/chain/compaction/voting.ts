// Tallying votes, and iterating passes until the kept set is stable.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { EventId } from '../../event/ids.js';
import { type CompactionEvent, type Compactor, CompactionError, type PassContext, type Vote } from './types.js';

/** As in the reference, except that an event nobody has an opinion on is kept, not dropped. */
export function tally(votes: readonly Vote[]): boolean {
  if (votes.includes('force-keep')) return true;
  if (votes.includes('force-drop')) return false;
  if (votes.includes('keep')) return true;
  return !votes.includes('drop');
}

/**
 * Votes may depend on what is kept (a proof is kept while an event it signs is kept), so passes
 * repeat until nothing changes. The first pass starts from "nothing kept" and the built-in
 * compactors only ever keep more as more is kept, so the passes climb to the smallest stable set;
 * starting from "everything kept" could settle on self-supporting leftovers instead.
 */
export async function decide(
  events: readonly CompactionEvent[],
  compactors: readonly Compactor[],
  ordinalOf: (id: EventId) => number,
): Promise<Uint8Array> {
  let kept = new Uint8Array(events.length);
  // Each pass can add at least one event, so this bound is only reached by a compactor whose
  // votes oscillate.
  for (let pass = 0; pass <= events.length + 1; pass++) {
    const previous = kept;
    const ctx: PassContext = { events, kept: (o) => previous[o] === 1, ordinalOf };
    const runs = compactors.map((c) => c.fresh(ctx));
    const next = new Uint8Array(events.length);
    let changed = false;
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i]!;
      const keptSoFar = previous[i] === 1;
      next[i] = tally(runs.map((r) => r.vote(event, keptSoFar))) ? 1 : 0;
      if (next[i] !== previous[i]) changed = true;
    }
    if (!changed) return next;
    kept = next;
    await yieldToLoop();
  }
  throw new CompactionError(`compaction did not settle: the votes of ${compactors.map((c) => c.name).join(', ')} keep changing; check custom compactors`);
}
