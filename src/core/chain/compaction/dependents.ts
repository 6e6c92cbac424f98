// Which old versions kept events still depend on. An event is judged by the state of the
// objects it names at its own position in the log: a child by its parent (a new child must have
// an existing parent, and write permission inherits through it), a tombstone by the object it
// deletes. Walking newest to oldest, the next older version of such an object is the one that was
// current when the dependent event was written, so it must survive for the event to validate again.
import type { PrimaryKey } from '../../event/ids.js';
import type { CompactionEvent } from './types.js';

export class Dependents {
  private readonly waiting = new Set<PrimaryKey>();

  /** Records what a kept event depends on. */
  note(event: CompactionEvent, kept: boolean): void {
    if (!kept) return;
    if (event.meta.parent !== undefined) this.waiting.add(event.meta.parent.key);
    if (event.meta.tombstone !== undefined) this.waiting.add(event.meta.tombstone);
  }

  /** Whether this (older) version of `key` is needed by a newer kept event; it then satisfies them all. */
  take(key: PrimaryKey): boolean {
    return this.waiting.delete(key);
  }
}
