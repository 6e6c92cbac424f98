// Remove duplicates: an object's older versions go, its newest stays.
//
// The reference keeps the newest version per (key, authorization) and, through a "parent
// override", the older version a child written between two versions depends on. Kept events are
// validated again in log order, and each version of an object is judged by the version before it
// (an event cannot grant itself the right it needs), or, when none is kept, as a new object under
// its parent. So besides the newest version this compactor keeps, per object:
// - every version that changes who may write it (a transition: its own write option, or the parent
//   it inherits from, differs from its predecessor's), because the versions after it were judged by
//   it; keying on the write side alone, not the whole authorization, lets read-only changes
//   (rewrapped data keys) collapse, since reads are decided by the newest version;
// - the version before a transition that moved the object to another parent: were everything
//   before the move dropped, the move would be judged under its new parent, not its old one;
// - the version a newer kept event depended on (see dependents.ts): the reference's parent override.
// Every dropped version then has the same write judge as the one before it, so every kept version
// is judged by the same write authority as the first time. Most objects keep one version; those
// created with writers of their own keep two (the creation, judged by the parent, and the newest).
import type { PrimaryKey } from '../../event/ids.js';
import type { Metadata } from '../../event/metadata.js';
import { Dependents, ancestry } from './dependents.js';
import type { CompactionEvent, Compactor, CompactorRun, PassContext, Vote } from './types.js';

/** Who the next version of an object is judged by: its own write option, else the parent it inherits from. */
function writeJudge(meta: Pick<Metadata, 'auth' | 'parent'>): string {
  const w = meta.auth?.write;
  if (w === undefined || w.kind === 'inherit') return meta.parent ? `parent ${meta.parent.key}` : 'root';
  return w.kind === 'specific' ? `keys ${[...w.keys].sort().join(' ')}` : w.kind;
}

/**
 * Ordinals of each object's current version by the view's rule (latest timestamp, then larger id):
 * with concurrent writers it need not be the last one in log order, and both must stay.
 */
function currents(events: readonly CompactionEvent[]): Set<number> {
  const best = new Map<PrimaryKey, CompactionEvent>();
  for (const e of events) {
    const key = e.meta.key ?? e.meta.tombstone;
    if (key === undefined) continue;
    const b = best.get(key);
    if (!b || e.timestamp > b.timestamp || (e.timestamp === b.timestamp && e.id > b.id)) best.set(key, e);
  }
  return new Set([...best.values()].map((e) => e.ordinal));
}

/** Ordinals of transitions, and of the versions moves were judged by. */
function anchors(events: readonly CompactionEvent[]): Set<number> {
  const last = new Map<PrimaryKey, { judge: string; parent: PrimaryKey | undefined; ordinal: number }>();
  const out = new Set<number>();
  for (const e of events) {
    const { key, tombstone, parent } = e.meta;
    if (tombstone !== undefined) last.delete(tombstone);
    if (key === undefined) continue;
    const judge = writeJudge(e.meta);
    const before = last.get(key);
    // A new object is judged by its parent (or the root), as if its predecessor inherited.
    if (judge !== (before?.judge ?? writeJudge({ parent }))) {
      out.add(e.ordinal);
      if (before && before.parent !== parent?.key) out.add(before.ordinal);
    }
    last.set(key, { judge, parent: parent?.key, ordinal: e.ordinal });
  }
  return out;
}

class RemoveDuplicatesRun implements CompactorRun {
  /** Objects whose newer version (in the same life: a tombstone ends one) was seen. */
  private readonly newer = new Set<PrimaryKey>();

  constructor(
    private readonly anchors: ReadonlySet<number>,
    private readonly currents: ReadonlySet<number>,
    private readonly dependents: Dependents,
  ) {}

  vote(event: CompactionEvent, keptSoFar: boolean): Vote {
    const { key, tombstone } = event.meta;
    // Older versions belong to an earlier life of the object; the tombstone compactor judges them.
    if (tombstone !== undefined) this.newer.delete(tombstone);
    let vote: Vote = 'abstain';
    if (key !== undefined) {
      const needed = this.dependents.take(key, event.ordinal);
      const newest = !this.newer.has(key);
      this.newer.add(key);
      vote = newest || needed || this.anchors.has(event.ordinal) || this.currents.has(event.ordinal) ? 'keep' : 'drop';
    }
    this.dependents.note(event, keptSoFar);
    return vote;
  }
}

export const removeDuplicatesCompactor: Compactor = {
  name: 'remove-duplicates',
  fresh: (pass: PassContext) => new RemoveDuplicatesRun(anchors(pass.events), currents(pass.events), new Dependents(ancestry(pass.events))),
};
