// Reads a segment in big chunks, one read ahead, and hands out buffers that start on a record
// boundary: a record cut by a chunk boundary is stitched together (that record is copied, not the
// chunk). With a pool, chunks are read into recycled memory: a piece's bytes then last only until
// the next call to next(). A fresh 4 MiB buffer per chunk is external memory that V8 answers with a
// full GC every 64 MiB or so: streaming a chain of a million events to a peer spent three quarters
// of its time in GC that way.
import { LogCorruptError } from '../errors.js';
import { MAX_PAYLOAD, RECORD_OVERHEAD } from './format.js';
import type { SegmentFile } from './store.js';

/** Read size for scans and replay. */
export const CHUNK = 4 * 1024 * 1024;

export interface Piece {
  readonly buf: Buffer;
  /** File offset of buf[0]. */
  readonly offset: number;
}

/** Chunk buffers free for reuse, shared by the readers of one replay. */
export type ChunkPool = Buffer[];

export class ChunkReader {
  /** Where the next raw read starts. */
  private pos: number;
  private ahead: Promise<Buffer> | undefined;
  /** With a pool: the memory of the read ahead, and of the raw chunk handed out last. */
  private aheadMemory: Buffer | undefined;
  private currentMemory: Buffer | undefined;
  /** What the consumer left of the last piece: the start of a record that continues. */
  private carry: Piece | undefined;
  /** Records after a stitched one, handed out next. */
  private rest: Piece | undefined;
  private last: Piece | undefined;

  constructor(
    private readonly file: SegmentFile,
    from: number,
    private readonly end: number,
    private readonly pool?: ChunkPool,
  ) {
    this.pos = from;
    this.ahead = this.readAhead();
  }

  /** The next piece of the segment, starting on a record boundary; undefined at the end. */
  async next(): Promise<Piece | undefined> {
    const carry = this.carry;
    this.carry = undefined;
    if (this.rest) {
      const rest = this.rest;
      this.rest = undefined;
      return this.hand(carry ? { buf: Buffer.concat([carry.buf, rest.buf]), offset: carry.offset } : rest);
    }
    // At the end, a carried record is broken: the consumer reports it.
    if (!this.ahead) return carry && this.hand(carry);
    let raw = await this.advance(true);
    if (!carry) return this.hand(raw);
    const size = recordSize(carry.buf, raw.buf);
    const parts = [carry.buf];
    let have = carry.buf.length;
    for (;;) {
      const take = Math.min(raw.buf.length, size - have);
      parts.push(raw.buf.subarray(0, take));
      have += take;
      if (take < raw.buf.length) {
        this.rest = { buf: raw.buf.subarray(take), offset: raw.offset + take };
        break;
      }
      if (have >= size || !this.ahead) break;
      raw = await this.advance(false); // a record longer than a chunk: `parts` still points into this one
    }
    return this.hand({ buf: Buffer.concat(parts, have), offset: carry.offset });
  }

  /** The consumer took `used` bytes of the last piece; the rest starts an incomplete record. */
  done(used: number): void {
    const last = this.last!;
    this.last = undefined;
    if (used < last.buf.length) {
      const rest = last.buf.subarray(used);
      // Recycled memory is read into again by the next call: the start of the cut record is copied out.
      this.carry = { buf: this.pool ? Buffer.from(rest) : rest, offset: last.offset + used };
    }
  }

  private hand(piece: Piece): Piece {
    this.last = piece;
    return piece;
  }

  /** The raw chunk read ahead; `recycle`: the one before it is no longer looked at. */
  private async advance(recycle: boolean): Promise<Piece> {
    const buf = await this.ahead!;
    const offset = this.pos;
    if (buf.length === 0) throw new LogCorruptError(this.file.name, offset, 'segment is shorter than expected');
    this.pos += buf.length;
    if (this.pool) {
      if (recycle && this.currentMemory) this.pool.push(this.currentMemory);
      this.currentMemory = this.aheadMemory;
    }
    this.ahead = this.readAhead();
    return { buf, offset };
  }

  private readAhead(): Promise<Buffer> | undefined {
    if (this.pos >= this.end) return undefined;
    const length = Math.min(CHUNK, this.end - this.pos);
    const into = this.pool ? (this.pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK)) : undefined;
    this.aheadMemory = into;
    const p = this.file.read(this.pos, length, into);
    p.catch(() => undefined); // awaited by next(), or dropped with the reader
    return p;
  }
}

/** The size of the record that `carry` starts (its head may continue in `next`). */
function recordSize(carry: Buffer, next: Buffer): number {
  const head = carry.length >= 5 ? carry : Buffer.concat([carry, next.subarray(0, 5 - carry.length)]);
  if (head.length < 5) return RECORD_OVERHEAD;
  const len = head.readUInt32BE(0);
  // An impossible length is for the walk to report: stitch only the framing.
  return len > MAX_PAYLOAD ? RECORD_OVERHEAD : len + RECORD_OVERHEAD;
}
