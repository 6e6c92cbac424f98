// The write buffer: records framed into slabs, in position order, until a flush hands them to the
// file. Seal records are reserved when placed and filled in when taken (their hash covers the bytes
// before them, which the writer hashes only then, once per batch rather than once per event).
import { EVENT, RECORD_OVERHEAD, SEAL, SEAL_PAYLOAD, SEAL_RECORD, frameRecord } from './format.js';
import { writeSeal, type SealWriter } from './seal.js';

const MIN_SLAB = 16 * 1024;
const MAX_SLAB = 1024 * 1024;
/** Written slabs kept for reuse: fresh memory costs a page fault per 4 KiB on first write. */
const SPARE_SLABS = 8;

interface Slab {
  readonly seq: number;
  /** Segment offset of buf[0]. */
  readonly start: number;
  readonly buf: Buffer;
  used: number;
  /** Bytes before this were handed to a write. */
  taken: number;
  /** Reserved seal records not yet filled, in order. */
  readonly seals: Array<{ readonly at: number; readonly count: number }>;
}

/** Bytes for one segment, to be written back to back at `offset`. */
export interface SegmentWrite {
  readonly seq: number;
  readonly offset: number;
  readonly buffers: Buffer[];
  end: number;
}

export class WriteBuffer {
  private slabs: Slab[] = [];
  private current: Slab | undefined;
  private pending = 0;
  private readonly spare: Buffer[] = [];

  /** `reuse`: slabs may be written to again once written out (not when the store keeps them). */
  constructor(private readonly reuse: boolean) {}

  /** Bytes placed and not yet taken. */
  get untaken(): number {
    return this.pending;
  }

  event(seq: number, offset: number, event: Uint8Array): void {
    const slab = this.room(seq, offset, event.length + RECORD_OVERHEAD);
    const at = slab.used;
    slab.buf.set(event, at + 5);
    frameRecord(slab.buf, at, EVENT, event.length);
    this.advance(slab, event.length + RECORD_OVERHEAD);
  }

  seal(seq: number, offset: number, count: number): void {
    const slab = this.room(seq, offset, SEAL_RECORD);
    // The head now, so that a read of this position sees a seal; the rest when taken.
    slab.buf.writeUInt32BE(SEAL_PAYLOAD, slab.used);
    slab.buf[slab.used + 4] = SEAL;
    slab.seals.push({ at: slab.used, count });
    this.advance(slab, SEAL_RECORD);
  }

  /**
   * Hands every untaken byte over, grouped by segment, after filling the seals and feeding the
   * hash (with a seal key).
   */
  take(sealer: SealWriter | undefined): SegmentWrite[] {
    const out: SegmentWrite[] = [];
    for (const slab of this.slabs) {
      if (slab.taken === slab.used) continue;
      if (sealer) this.hash(slab, sealer);
      const part = slab.buf.subarray(slab.taken, slab.used);
      const last = out[out.length - 1];
      if (last && last.seq === slab.seq && last.end === slab.start + slab.taken) {
        last.buffers.push(part);
        last.end += part.length;
      } else {
        out.push({ seq: slab.seq, offset: slab.start + slab.taken, buffers: [part], end: slab.start + slab.used });
      }
      slab.taken = slab.used;
    }
    this.pending = 0;
    return out;
  }

  /** The record bytes at a position not yet written to the file, if they are here. */
  find(seq: number, offset: number): Buffer | undefined {
    for (const slab of this.slabs) {
      if (slab.seq === seq && offset >= slab.start && offset < slab.start + slab.used) {
        return slab.buf.subarray(offset - slab.start, slab.used);
      }
    }
    return undefined;
  }

  /** Drops the slabs whose bytes are all in the file. */
  release(written: (seq: number, end: number) => boolean): void {
    let n = 0;
    for (const slab of this.slabs) {
      if (slab === this.current || slab.taken < slab.used || !written(slab.seq, slab.start + slab.used)) break;
      if (this.reuse && slab.buf.length === MAX_SLAB && this.spare.length < SPARE_SLABS) this.spare.push(slab.buf);
      n++;
    }
    if (n > 0) this.slabs = this.slabs.slice(n);
  }

  private hash(slab: Slab, sealer: SealWriter): void {
    sealer.advanceTo(slab.seq);
    let at = slab.taken;
    for (const s of slab.seals) {
      sealer.chain.update(slab.buf.subarray(at, s.at));
      writeSeal(slab.buf, s.at + 5, sealer.key, s.count, sealer.chain.digest());
      frameRecord(slab.buf, s.at, SEAL, SEAL_PAYLOAD);
      at = s.at;
    }
    slab.seals.length = 0;
    sealer.chain.update(slab.buf.subarray(at, slab.used));
  }

  private room(seq: number, offset: number, size: number): Slab {
    const cur = this.current;
    if (cur && cur.seq === seq && cur.buf.length - cur.used >= size) return cur;
    const grown = cur && cur.seq === seq ? Math.min(MAX_SLAB, cur.buf.length * 2) : MIN_SLAB;
    const length = Math.max(grown, size);
    const buf = (length === MAX_SLAB && this.spare.pop()) || Buffer.allocUnsafeSlow(length);
    const slab: Slab = { seq, start: offset, buf, used: 0, taken: 0, seals: [] };
    this.slabs.push(slab);
    this.current = slab;
    return slab;
  }

  private advance(slab: Slab, size: number): void {
    slab.used += size;
    this.pending += size;
  }
}
