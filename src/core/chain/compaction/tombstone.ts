// Tombstones: a deleted object's history goes, and the tombstone with it; versions written after
// the tombstone (the object made again) are a new life and stay.
//
// Unlike the reference, a deleted life stays when something kept still depends on it: children
// of a deleted object live on (deletes do not cascade), and a new child had to find its parent, so
// the parent version it was judged by must stay, and with it the tombstone that ends it. Such a life
// is then left to the other compactors like a live one (its versions are judged by each other when
// replayed). Without that, compaction would make live objects fail validation and vanish. The same
// holds for a tombstone the cut-off keeps: it is judged by the version it deletes.
import type { PrimaryKey } from '../../event/ids.js';
import { Dependents, ancestry } from './dependents.js';
import type { CompactionEvent, Compactor, CompactorRun, PassContext, Vote } from './types.js';

/** Ordinals of tombstones that end a life of which some event was kept in the previous pass. */
function supported(pass: PassContext): Set<number> {
  const lifeKept = new Set<PrimaryKey>();
  const out = new Set<number>();
  for (const e of pass.events) {
    const { key, tombstone } = e.meta;
    if (key !== undefined && pass.kept(e.ordinal)) lifeKept.add(key);
    if (tombstone !== undefined) {
      if (lifeKept.has(tombstone)) out.add(e.ordinal);
      lifeKept.delete(tombstone);
    }
  }
  return out;
}

class TombstoneRun implements CompactorRun {
  /** Objects with a tombstone newer than the walk's position, and the ordinal of the nearest one. */
  private readonly deleted = new Map<PrimaryKey, number>();

  constructor(
    private readonly supported: ReadonlySet<number>,
    private readonly dependents: Dependents,
  ) {}

  vote(event: CompactionEvent, keptSoFar: boolean): Vote {
    const { key, tombstone } = event.meta;
    let vote: Vote = 'abstain';
    if (tombstone !== undefined) {
      this.deleted.set(tombstone, event.ordinal);
      vote = this.supported.has(event.ordinal) ? 'keep' : 'force-drop';
    } else if (key !== undefined) {
      const needed = this.dependents.take(key, event.ordinal);
      const end = this.deleted.get(key);
      if (end !== undefined && !needed && !this.supported.has(end)) vote = 'force-drop';
    }
    this.dependents.note(event, keptSoFar);
    return vote;
  }
}

export const tombstoneCompactor: Compactor = {
  name: 'tombstone',
  fresh: (pass: PassContext) => new TombstoneRun(supported(pass), new Dependents(ancestry(pass.events))),
};
