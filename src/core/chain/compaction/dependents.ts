// Which old versions kept events still depend on. An event is judged by the state of the
// objects it names at its own position in the log: a child by its parent (a new child must have
// an existing parent, and write permission inherits through it), a tombstone by the object it
// deletes. Walking newest to oldest, the next older version of such an object is the one that was
// current when the dependent event was written, so it must survive for the event to validate again.
// Write permission is also judged through the ancestors, as they were at the event's position:
// their versions current there must survive too, though a newer version of each is kept (an
// ancestor deleted and made again in between would otherwise be missing at the event's position).
import type { PrimaryKey } from '../../event/ids.js';
import type { CompactionEvent } from './types.js';

/** Ancestors deeper than this are not followed (a cycle the validators refused, or a deep tree's top). */
const MAX_DEPTH = 64;

const computed = new WeakMap<readonly CompactionEvent[], Map<number, number[]>>();

/**
 * For each event, the ordinals of the versions the tree authority walked through to judge it: the
 * ancestors of its object (or, for a new one, of its parent) as they were at its position, up to
 * the first that names its own writers. Computed once per compaction, for every pass.
 */
export function ancestry(events: readonly CompactionEvent[]): Map<number, number[]> {
  let out = computed.get(events);
  if (out === undefined) computed.set(events, (out = walkAncestry(events)));
  return out;
}

interface Version {
  readonly ordinal: number;
  readonly parent: PrimaryKey | undefined;
  /** Names its own writers: the tree authority stops here. */
  readonly ownWrite: boolean;
}

function walkAncestry(events: readonly CompactionEvent[]): Map<number, number[]> {
  const current = new Map<PrimaryKey, Version>();
  const out = new Map<number, number[]>();
  for (const e of events) {
    const { key, tombstone, parent, auth } = e.meta;
    // What the tree authority walks for this event: an existing object's current version (an
    // event cannot grant itself the right it needs), else the new object's parent.
    const target = key ?? tombstone;
    let state: Version | undefined = (target !== undefined ? current.get(target) : undefined) ?? (parent ? { ordinal: -1, parent: parent.key, ownWrite: false } : undefined);
    const found: number[] = [];
    for (let depth = 0; state !== undefined && !state.ownWrite && state.parent !== undefined && depth < MAX_DEPTH; depth++) {
      state = current.get(state.parent);
      if (state !== undefined) found.push(state.ordinal);
    }
    if (found.length > 0) out.set(e.ordinal, found);
    if (tombstone !== undefined) current.delete(tombstone);
    if (key !== undefined) {
      const w = auth?.write;
      current.set(key, { ordinal: e.ordinal, parent: parent?.key, ownWrite: w !== undefined && w.kind !== 'inherit' });
    }
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
