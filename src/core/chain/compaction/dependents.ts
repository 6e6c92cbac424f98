// Which old versions kept events still depend on. An event is judged by the state of the
// objects it names at its own position in the log: a child by its parent (a new child must have
// an existing parent, and write permission inherits through it), a tombstone by the object it
// deletes. Walking newest to oldest, the next older version of such an object is the one that was
// current when the dependent event was written, so it must survive for the event to validate again.
// A child is also judged through its parent's ancestors, as they were at the child's position:
// their versions current there must survive too, though a newer version of each is kept (an
// ancestor deleted and made again between them would otherwise be missing at the child's position).
import type { PrimaryKey } from '../../event/ids.js';
import type { CompactionEvent } from './types.js';

/** Ancestors deeper than this are not followed (a cycle the validators refused, or a deep tree's top). */
const MAX_DEPTH = 64;

const computed = new WeakMap<readonly CompactionEvent[], Map<number, number[]>>();

/**
 * For each event with a parent, the ordinals of the versions of its parent's ancestors (the
 * grandparent and up) current at its position. Computed once per compaction, for every pass.
 */
export function ancestry(events: readonly CompactionEvent[]): Map<number, number[]> {
  let out = computed.get(events);
  if (out === undefined) computed.set(events, (out = walkAncestry(events)));
  return out;
}

function walkAncestry(events: readonly CompactionEvent[]): Map<number, number[]> {
  const current = new Map<PrimaryKey, { ordinal: number; parent: PrimaryKey | undefined }>();
  const out = new Map<number, number[]>();
  for (const e of events) {
    const { key, tombstone, parent } = e.meta;
    if (parent !== undefined) {
      const found: number[] = [];
      let up = current.get(parent.key)?.parent;
      for (let depth = 0; up !== undefined && depth < MAX_DEPTH; depth++) {
        const at = current.get(up);
        if (at === undefined) break;
        found.push(at.ordinal);
        up = at.parent;
      }
      if (found.length > 0) out.set(e.ordinal, found);
    }
    if (tombstone !== undefined) current.delete(tombstone);
    if (key !== undefined) current.set(key, { ordinal: e.ordinal, parent: parent?.key });
  }
  return out;
}

export class Dependents {
  private readonly waiting = new Set<PrimaryKey>();
  private readonly neededVersions = new Set<number>();

  constructor(private readonly ancestors: ReadonlyMap<number, readonly number[]>) {}

  /** Records what a kept event depends on. */
  note(event: CompactionEvent, kept: boolean): void {
    if (!kept) return;
    if (event.meta.parent !== undefined) this.waiting.add(event.meta.parent.key);
    if (event.meta.tombstone !== undefined) this.waiting.add(event.meta.tombstone);
    for (const ordinal of this.ancestors.get(event.ordinal) ?? []) this.neededVersions.add(ordinal);
  }

  /** Whether this (older) version of `key` is needed by a newer kept event; it then satisfies them all. */
  take(key: PrimaryKey, ordinal: number): boolean {
    const waited = this.waiting.delete(key);
    return this.neededVersions.has(ordinal) || waited;
  }
}
