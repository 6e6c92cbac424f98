// Sets and maps of object keys (16 hex digits: 64 bits) as open-addressing tables of two
// Uint32Arrays, with linear probing and backward-shift deletion. A Map keyed by the hex strings
// keeps a string and an entry per key and pays two hash lookups for a lookup-then-insert; on a
// million-object chain those lookups are cache misses that dominate replay (docs/BENCHMARKS.md).
// Iteration hands out a snapshot, in the order of a rank the owner gives (the view: creation order,
// as a Map's insertion order was): callers may await between steps while the view changes.
import type { PrimaryKey } from '../event/ids.js';

// Small: most sets are an object's few chunks or a directory's few entries.
const FIRST_CAPACITY = 4;

/** The value of 8 hex digits of `s` from `at` (the key's form is checked where keys are made). */
function hexWord(s: string, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = s.charCodeAt(i);
    v = (v << 4) | (c <= 57 ? c - 48 : c - 87);
  }
  return v >>> 0;
}

const hex8 = (v: number): string => v.toString(16).padStart(8, '0');

class KeyTable<V> {
  private hi = new Uint32Array(FIRST_CAPACITY);
  private lo = new Uint32Array(FIRST_CAPACITY);
  private full = new Uint8Array(FIRST_CAPACITY);
  /** Values by slot (maps only): moved together with their keys. */
  protected values: (V | undefined)[] | undefined;
  private shift = 32 - Math.log2(FIRST_CAPACITY);
  private n = 0;
  /** The words of the key of the last find, for the insert that may follow it. */
  private h = 0;
  private l = 0;
  /** The last find's key and answer, until the table changes. */
  private lastKey: string | undefined;
  private lastAt: number | undefined;

  constructor(
    withValues: boolean,
    /** Orders iteration (ascending); table order without it. */
    private readonly rank?: (key: PrimaryKey, slot: number) => number,
  ) {
    if (withValues) this.values = new Array<V | undefined>(FIRST_CAPACITY);
  }

  get size(): number {
    return this.n;
  }

  has(key: PrimaryKey): boolean {
    return this.find(key) >= 0;
  }

  delete(key: PrimaryKey): boolean {
    const at = this.find(key);
    if (at < 0) return false;
    this.removeAt(at);
    return true;
  }

  clear(): void {
    this.hi = new Uint32Array(FIRST_CAPACITY);
    this.lo = new Uint32Array(FIRST_CAPACITY);
    this.full = new Uint8Array(FIRST_CAPACITY);
    if (this.values) this.values = new Array<V | undefined>(FIRST_CAPACITY);
    this.shift = 32 - Math.log2(FIRST_CAPACITY);
    this.n = 0;
    this.lastAt = undefined;
  }

  /** The slot holding `key`, or -1 - the slot where it would go. */
  protected find(key: PrimaryKey): number {
    // A lookup then an insert of the same key (the view's usual pair) probes once.
    if (key === this.lastKey && this.lastAt !== undefined) return this.lastAt;
    this.h = hexWord(key, 0);
    this.l = hexWord(key, 8);
    this.lastKey = key;
    return (this.lastAt = this.findWords(this.h, this.l));
  }

  /** Puts the key of the failed find just made (it answered `missing`) in place, growing first if needed; returns its slot. */
  protected insert(missing: number): number {
    const { h, l } = this;
    this.lastAt = undefined;
    let slot = -1 - missing;
    // At most half full: linear probing stays short, for misses (every new key) too.
    if ((this.n + 1) * 2 > this.full.length) {
      this.grow();
      slot = -1 - this.findWords(h, l);
    }
    this.hi[slot] = h;
    this.lo[slot] = l;
    this.full[slot] = 1;
    this.n++;
    return slot;
  }

  keys(): IterableIterator<PrimaryKey> {
    return this.snapshot((key) => key);
  }

  /** An item per full slot, in rank order (table order without a rank): a snapshot. */
  protected snapshot<T>(item: (key: PrimaryKey, slot: number) => T): IterableIterator<T> {
    const keys: PrimaryKey[] = [];
    const slots: number[] = [];
    for (let i = 0; i < this.full.length; i++) {
      if (this.full[i] !== 1) continue;
      keys.push((hex8(this.hi[i]!) + hex8(this.lo[i]!)) as PrimaryKey);
      slots.push(i);
    }
    const order = keys.map((_, i) => i);
    const rank = this.rank;
    if (rank) {
      const ranks = keys.map((key, i) => rank(key, slots[i]!));
      order.sort((a, b) => ranks[a]! - ranks[b]!);
    }
    return order.map((i) => item(keys[i]!, slots[i]!))[Symbol.iterator]();
  }

  /** Empties `slot` and moves later entries of its probe run back, so no lookup stops short. */
  private removeAt(slot: number): void {
    const { hi, lo, full, values } = this;
    this.lastAt = undefined;
    const mask = full.length - 1;
    let hole = slot;
    for (let i = (slot + 1) & mask; full[i] === 1; i = (i + 1) & mask) {
      const home = this.home(hi[i]!, lo[i]!);
      // An entry may fill the hole unless its home lies cyclically in (hole, i].
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        hi[hole] = hi[i]!;
        lo[hole] = lo[i]!;
        if (values) values[hole] = values[i];
        hole = i;
      }
    }
    full[hole] = 0;
    if (values) values[hole] = undefined;
    this.n--;
  }

  private home(h: number, l: number): number {
    // Keys are mostly random, but names hashed or typed by hand need not be: mix both words.
    return Math.imul(l ^ Math.imul(h, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  private findWords(h: number, l: number): number {
    const { hi, lo, full } = this;
    const mask = full.length - 1;
    for (let i = this.home(h, l); ; i = (i + 1) & mask) {
      if (full[i] === 0) return -1 - i;
      if (lo[i] === l && hi[i] === h) return i;
    }
  }

  private grow(): void {
    const { hi, lo, full, values } = this;
    const capacity = full.length * 2;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.full = new Uint8Array(capacity);
    if (values) this.values = new Array<V | undefined>(capacity);
    this.shift--;
    for (let i = 0; i < full.length; i++) {
      if (full[i] !== 1) continue;
      const to = -1 - this.findWords(hi[i]!, lo[i]!);
      this.hi[to] = hi[i]!;
      this.lo[to] = lo[i]!;
      this.full[to] = 1;
      if (values) this.values![to] = values[i];
    }
  }
}

/** What a set of keys offers to read. */
export interface KeyCollection extends Iterable<PrimaryKey> {
  readonly size: number;
  has(key: PrimaryKey): boolean;
}

class TableSet extends KeyTable<never> {
  constructor(rank?: (key: PrimaryKey) => number) {
    super(false, rank);
  }

  add(key: PrimaryKey): void {
    const at = this.find(key);
    if (at < 0) this.insert(at);
  }
}

/** Sets up to this size are a plain array: most are a file's few chunks or a directory's few entries. */
const SMALL_SET = 8;

/** A set of object keys. */
export class KeySet implements KeyCollection {
  private small: PrimaryKey[] | undefined = [];
  private table: TableSet | undefined;

  constructor(private readonly rank?: (key: PrimaryKey) => number) {}

  get size(): number {
    return this.small ? this.small.length : this.table!.size;
  }

  has(key: PrimaryKey): boolean {
    return this.small ? this.small.includes(key) : this.table!.has(key);
  }

  add(key: PrimaryKey): this {
    const small = this.small;
    if (!small) this.table!.add(key);
    else if (small.includes(key)) return this;
    else if (small.length < SMALL_SET) small.push(key);
    else {
      this.table = new TableSet(this.rank);
      for (const k of small) this.table.add(k);
      this.table.add(key);
      this.small = undefined;
    }
    return this;
  }

  delete(key: PrimaryKey): boolean {
    if (!this.small) return this.table!.delete(key);
    const i = this.small.indexOf(key);
    if (i < 0) return false;
    this.small.splice(i, 1);
    return true;
  }

  [Symbol.iterator](): IterableIterator<PrimaryKey> {
    if (!this.small) return this.table!.keys();
    const keys = [...this.small];
    const rank = this.rank;
    if (rank) keys.sort((a, b) => rank(a) - rank(b));
    return keys[Symbol.iterator]();
  }
}

/** A map from object keys to values. */
export class KeyMap<V> extends KeyTable<V> implements Iterable<[PrimaryKey, V]> {
  constructor(rank?: (value: V) => number) {
    super(true, rank && ((_key, slot) => rank(this.values![slot]!)));
  }

  get(key: PrimaryKey): V | undefined {
    const at = this.find(key);
    return at < 0 ? undefined : this.values![at];
  }

  set(key: PrimaryKey, value: V): this {
    let at = this.find(key);
    if (at < 0) at = this.insert(at);
    this.values![at] = value;
    return this;
  }

  [Symbol.iterator](): IterableIterator<[PrimaryKey, V]> {
    return this.snapshot((key, slot): [PrimaryKey, V] => [key, this.values![slot]!]);
  }
}
