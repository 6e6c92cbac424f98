// The in-memory twin's storage: a segment is the list of buffers written to it, header first.
import type { MutableStats, SegmentFile, SegmentStore } from './store.js';
import { segmentFileName } from './format.js';
import { ClosedError } from '../errors.js';

class MemorySegment implements SegmentFile {
  private readonly parts: Buffer[] = [];
  private readonly starts: number[] = [];
  private size = 0;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly stats: MutableStats,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    this.check();
    // The last part starting at or before offset.
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const part = this.parts[lo];
    if (!part || offset >= this.size) return Buffer.alloc(0);
    const from = offset - this.starts[lo]!;
    return part.subarray(from, Math.min(part.length, from + length));
  }

  async write(offset: number, parts: Buffer[]): Promise<void> {
    this.check();
    if (offset !== this.size) throw new Error(`memory segment ${this.name}: write at ${offset}, end is ${this.size}`);
    for (const p of parts) {
      this.starts.push(this.size);
      this.parts.push(p);
      this.size += p.length;
    }
    this.stats.writes++;
  }

  async sync(): Promise<void> {
    this.check();
    this.stats.syncs++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new ClosedError(`${this.name} was closed (the log was closed or compacted)`);
  }
}

export class MemoryStore implements SegmentStore {
  readonly keepsBuffers = true;

  constructor(
    readonly name: string,
    private readonly stats: MutableStats,
  ) {}

  async create(gen: number, seq: number, header: Buffer): Promise<SegmentFile> {
    const seg = new MemorySegment(`${this.name}/${segmentFileName(gen, seq)}`, this.stats);
    await seg.write(0, [header]);
    return seg;
  }

  async commit(): Promise<void> {}

  async drop(): Promise<void> {}

  async destroy(): Promise<void> {}
}
