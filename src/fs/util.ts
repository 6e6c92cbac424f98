// Small helpers of the filesystem: a FIFO async mutex and a byte-bounded LRU.

/** Runs functions one at a time, in call order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** A least-recently-used map bounded by the sum of its values' sizes. */
export class ByteLru<K, V extends { length: number }> {
  private readonly map = new Map<K, V>();
  private bytes = 0;

  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.delete(key);
    this.map.set(key, value);
    this.bytes += value.length;
    while (this.bytes > this.limit && this.map.size > 1) {
      const [k] = this.map.keys();
      this.delete(k as K);
    }
  }

  delete(key: K): void {
    const v = this.map.get(key);
    if (v === undefined) return;
    this.map.delete(key);
    this.bytes -= v.length;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.bytes;
  }
}
