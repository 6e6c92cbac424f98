// The materialized view of a chain: what every event did, kept lean in memory.
// Per event: id (in IdIndex), log position and timestamp in typed arrays.
// Per live object: its current version and authority. Data stays in the log.
// Versions of one object are ordered by (timestamp, event id), not by arrival, so that replicas
// that receive concurrent writes in different orders agree (docs/FORMAT.md "Concurrent writers").
import type { LogPosition, SegmentNo } from '../log/index.js';
import type { CollectionId, PrimaryKey } from '../event/ids.js';
import type { Authorization, ParentRef } from '../event/metadata.js';
import type { ViewFields } from '../event/encoding.js';
import { IdIndex } from './id-index.js';
import { type KeyCollection, KeyMap, KeySet } from './key-table.js';

// Ordinals rather than times: small integers, so an object costs no heap numbers.
export interface ObjectState {
  /** Ordinal of the event holding the current version. */
  latest: number;
  /** Ordinal of the event that created it (its time is the object's creation time). */
  first: number;
  auth: Authorization | undefined;
  parent: ParentRef | undefined;
  type: string | undefined;
}

export class ChainView {
  readonly ids = new IdIndex();
  private segments = new Uint32Array(1024);
  private offsets = new Float64Array(1024);
  private times = new Float64Array(1024);
  private lastTime = 0;
  /** Iterates in creation order, as a Map in insertion order did. */
  readonly objects = new KeyMap<ObjectState>((s) => s.first);
  /** parent -> collection -> children (nested, so no key string is built per event). */
  private readonly children = new KeyMap<Map<CollectionId, KeySet>>();
  /** Deleted objects -> ordinal of their tombstone: an older version arriving late stays deleted. */
  private readonly tombs = new KeyMap<number>();
  /** Events that arrived after a newer version of their object (kept in the log, not current). */
  superseded = 0;
  /** Changes with every event added and every clear: a cached answer of an older version is stale. */
  version = 0;
  private lastParent: ParentRef | undefined;
  /** The children set of `lastSetOf` (cleared whenever a set may be dropped). */
  private lastSet: KeySet | undefined;
  private lastSetOf: ParentRef | undefined;
  /** Children iterate in creation order (a DaoVec's order, a queue's first in). */
  private readonly createdAt = (key: PrimaryKey): number => this.objects.get(key)?.first ?? -1;

  get count(): number {
    return this.ids.size;
  }

  /** Records an event; returns its ordinal, or -1 if its id is already known (a replay). */
  add(id: Uint8Array, meta: ViewFields, pos: LogPosition): number {
    const ordinal = this.ids.add(id);
    if (ordinal === -1) return -1;
    this.version++;
    if (ordinal >= this.times.length) this.growArrays();
    this.segments[ordinal] = pos.segment;
    this.offsets[ordinal] = pos.offset;
    // Proof-only events carry no timestamp; they file under the last one seen.
    if (meta.timestamp !== undefined) this.lastTime = meta.timestamp;
    this.times[ordinal] = this.lastTime;
    this.apply(meta, ordinal);
    return ordinal;
  }

  setPosition(ordinal: number, pos: LogPosition): void {
    this.segments[ordinal] = pos.segment;
    this.offsets[ordinal] = pos.offset;
  }

  position(ordinal: number): LogPosition {
    return { segment: this.segments[ordinal] as SegmentNo, offset: this.offsets[ordinal]! };
  }

  /** Whether the event at `ordinal` is the record at `pos` (no position object made). */
  isAt(ordinal: number, pos: LogPosition): boolean {
    return this.segments[ordinal] === pos.segment && this.offsets[ordinal] === pos.offset;
  }

  timeOf(ordinal: number): number {
    return this.times[ordinal]!;
  }

  /** Time of an object's current version or of its tombstone: a new version must be later. */
  lastChange(key: PrimaryKey): number {
    const ordinal = this.objects.get(key)?.latest ?? (this.tombs.size > 0 ? this.tombs.get(key) : undefined);
    return ordinal === undefined ? 0 : this.times[ordinal]!;
  }

  childrenOf(parent: PrimaryKey, collection: CollectionId): KeyCollection {
    return this.children.get(parent)?.get(collection) ?? EMPTY;
  }

  /** Ordinals in timestamp order (log order among equal timestamps), optionally in [from, to). */
  timeline(from = -Infinity, to = Infinity): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const t = this.times[i]!;
      if (t >= from && t < to) out.push(i);
    }
    return out.sort((a, b) => this.times[a]! - this.times[b]! || a - b);
  }

  /** The newest timestamp seen. */
  get end(): number {
    return this.lastTime;
  }

  clear(): void {
    this.ids.clear();
    this.objects.clear();
    this.children.clear();
    this.tombs.clear();
    this.superseded = 0;
    this.version++;
    this.lastTime = 0;
    this.lastParent = this.lastSet = this.lastSetOf = undefined;
  }

  /** Whether the event at `ordinal` is a later version than the one at `current`. */
  private newer(ordinal: number, current: number): boolean {
    const a = this.times[ordinal]!;
    const b = this.times[current]!;
    if (a !== b) return a > b;
    return this.ids.compareAt(ordinal, current) > 0;
  }

  // Each lookup in a million-entry table is a cache miss or two: every one counts here.
  private apply(meta: ViewFields, ordinal: number): void {
    const key = meta.key ?? meta.tombstone;
    if (key === undefined) return;
    const before = this.objects.get(key);
    const current = before !== undefined ? before.latest : this.tombs.size > 0 ? this.tombs.get(key) : undefined;
    if (current !== undefined && !this.newer(ordinal, current)) {
      this.superseded++;
      return;
    }
    if (meta.key !== undefined) {
      const parent = meta.parent && this.shared(meta.parent);
      const auth = meta.auth && ownAuth(meta.auth);
      if (before === undefined) {
        if (current !== undefined) this.tombs.delete(key);
        this.objects.set(key, { latest: ordinal, first: ordinal, auth, parent, type: meta.type });
        if (parent) this.childrenSet(parent).add(key);
        return;
      }
      // A new version changes the state in place: one Map operation instead of two.
      const old = before.parent;
      const moved = old !== undefined && !sameParent(old, parent);
      if (moved) this.detach(key, old);
      before.latest = ordinal;
      before.auth = auth;
      before.parent = parent;
      before.type = meta.type;
      if (parent && (old === undefined || moved)) this.childrenSet(parent).add(key);
    } else {
      if (before?.parent) this.detach(key, before.parent);
      if (before !== undefined) this.objects.delete(key);
      this.tombs.set(key, ordinal);
    }
  }

  /** One ParentRef for consecutive children of the same parent: less heap per object. */
  private shared(parent: ParentRef): ParentRef {
    const last = this.lastParent;
    if (last !== undefined && last.key === parent.key && last.collection === parent.collection) return last;
    return (this.lastParent = parent);
  }

  private childrenSet(parent: ParentRef): KeySet {
    if (this.lastSet !== undefined && this.lastSetOf === parent) return this.lastSet;
    let collections = this.children.get(parent.key);
    if (!collections) this.children.set(parent.key, (collections = new Map()));
    let set = collections.get(parent.collection);
    if (!set) collections.set(parent.collection, (set = new KeySet(this.createdAt)));
    this.lastSetOf = parent;
    return (this.lastSet = set);
  }

  private detach(key: PrimaryKey, parent: ParentRef): void {
    this.lastSet = this.lastSetOf = undefined;
    const collections = this.children.get(parent.key);
    const set = collections?.get(parent.collection);
    set?.delete(key);
    if (set?.size === 0) {
      collections!.delete(parent.collection);
      if (collections!.size === 0) this.children.delete(parent.key);
    }
  }

  private growArrays(): void {
    const size = this.times.length * 2;
    const grow = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.segments = grow(this.segments, (n) => new Uint32Array(n));
    this.offsets = grow(this.offsets, (n) => new Float64Array(n));
    this.times = grow(this.times, (n) => new Float64Array(n));
  }
}

const EMPTY: KeyCollection = new KeySet();

/** Decoded metadata points into the log's read buffers; the view keeps its own copies. */
function ownAuth(auth: Authorization): Authorization {
  if (auth.read.kind !== 'specific') return auth;
  const readers = auth.read.readers.map((r) => ({ keyId: r.keyId, wrapped: Uint8Array.from(r.wrapped) }));
  const previous = auth.read.previous?.map((p) => ({ hint: Uint8Array.from(p.hint), sealed: Uint8Array.from(p.sealed) }));
  return { read: { kind: 'specific', readers, ...(previous ? { previous } : {}) }, write: auth.write };
}

function sameParent(a: ParentRef, b: ParentRef | undefined): boolean {
  return b !== undefined && a.key === b.key && a.collection === b.collection;
}
