// Event ids of a chain, kept in one byte arena with an open-addressing table of indexes into it.
// A Set of 64-character strings would cost ~150 bytes per event; this costs ~40.

const ID_BYTES = 32;

export class IdIndex {
  private arena: Buffer = Buffer.alloc(ID_BYTES * 1024);
  private table: Int32Array = new Int32Array(2048).fill(-1);
  private mask = 2047;
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Appends an id; returns its ordinal, or -1 when the id is already present. */
  add(id: Uint8Array): number {
    if ((this.n + 1) * 2 > this.table.length) this.grow();
    let slot = this.slotOf(id);
    while (this.table[slot] !== -1) {
      if (this.equalsAt(this.table[slot]!, id)) return -1;
      slot = (slot + 1) & this.mask;
    }
    if ((this.n + 1) * ID_BYTES > this.arena.length) {
      const bigger = Buffer.alloc(this.arena.length * 2);
      this.arena.copy(bigger);
      this.arena = bigger;
    }
    this.arena.set(id, this.n * ID_BYTES);
    this.table[slot] = this.n;
    return this.n++;
  }

  /** The ordinal of the id at `bytes[from, from + 32)`, or -1 (an offset: no view to make per id). */
  indexOf(bytes: Uint8Array, from = 0): number {
    let slot = this.slotOf(bytes, from);
    for (;;) {
      const at = this.table[slot]!;
      if (at === -1) return -1;
      if (this.equalsAt(at, bytes, from)) return at;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Whether the id with this ordinal is the one at `bytes[from, from + 32)` (false past the end). */
  isAt(ordinal: number, bytes: Uint8Array, from = 0): boolean {
    return ordinal >= 0 && ordinal < this.n && this.equalsAt(ordinal, bytes, from);
  }

  /** The id with this ordinal (a view into the arena: copy it to keep it). */
  idAt(ordinal: number): Buffer {
    return this.arena.subarray(ordinal * ID_BYTES, (ordinal + 1) * ID_BYTES);
  }

  /** Orders two stored ids bytewise: negative, zero or positive. */
  compareAt(a: number, b: number): number {
    return this.arena.compare(this.arena, b * ID_BYTES, (b + 1) * ID_BYTES, a * ID_BYTES, (a + 1) * ID_BYTES);
  }

  /** Drops every id; used when the view is rebuilt after compaction. */
  clear(): void {
    this.table.fill(-1);
    this.n = 0;
  }

  private slotOf(bytes: Uint8Array, from = 0): number {
    // Ids are hashes, so their first bytes are already uniformly distributed.
    return ((bytes[from]! << 24) | (bytes[from + 1]! << 16) | (bytes[from + 2]! << 8) | bytes[from + 3]!) & this.mask;
  }

  // A loop rather than Buffer.compare: the native call costs more than the bytes, and ids that
  // share a slot almost always differ in their first byte (the slot comes from bytes 2 and 3).
  private equalsAt(ordinal: number, bytes: Uint8Array, from = 0): boolean {
    const arena = this.arena;
    const at = ordinal * ID_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (arena[at + i] !== bytes[from + i]) return false;
    return true;
  }

  private grow(): void {
    const size = this.table.length * 2;
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let i = 0; i < this.n; i++) {
      let slot = this.slotOf(this.arena, i * ID_BYTES);
      while (this.table[slot] !== -1) slot = (slot + 1) & this.mask;
      this.table[slot] = i;
    }
  }
}
