// A bounded cache of event bytes read from the log, least recently used out first.
// Map iteration order is insertion order, so re-inserting on a hit keeps it an LRU.

export class LoadCache {
  private readonly entries = new Map<number, Uint8Array>();
  private bytes = 0;

  constructor(private readonly capacity: number) {}

  get(ordinal: number): Uint8Array | undefined {
    const hit = this.entries.get(ordinal);
    if (hit) {
      this.entries.delete(ordinal);
      this.entries.set(ordinal, hit);
    }
    return hit;
  }

  set(ordinal: number, value: Uint8Array): void {
    if (value.length > this.capacity) return;
    const old = this.entries.get(ordinal);
    if (old) this.bytes -= old.length;
    this.entries.delete(ordinal);
    this.entries.set(ordinal, value);
    this.bytes += value.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.capacity) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
