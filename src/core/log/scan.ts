// Reading records: a synchronous walk over one buffer (no await, no per-record allocation), and the
// open-time checks built on it.
import { LogCorruptError } from '../errors.js';
import { CHUNK, ChunkReader } from './chunks.js';
import { EVENT, MAX_PAYLOAD, RECORD_OVERHEAD, crcMatches, headProblem } from './format.js';
import type { SealChain } from './seal.js';
import type { SegmentFile } from './store.js';

export interface Visitor {
  event(buf: Buffer, at: number, len: number): void;
  seal(buf: Buffer, at: number): void;
}

export interface Walked {
  /** The first byte not consumed. */
  readonly at: number;
  /** Set when the record at `at` is invalid; unset when it merely continues past the buffer. */
  readonly problem?: string;
}

/**
 * Visits the complete records in buf[from, buf.length). `room` is how many bytes of the segment's
 * data there are from buf[0] on (the buffer may hold fewer).
 */
export function walk(buf: Buffer, from: number, room: number, checkCrc: boolean, v: Visitor): Walked {
  const n = buf.length;
  let at = from;
  while (at < n) {
    if (room - at < RECORD_OVERHEAD) return { at, problem: 'record shorter than its framing' };
    if (n - at < RECORD_OVERHEAD) return { at };
    const len = buf.readUInt32BE(at);
    const type = buf[at + 4];
    if (type !== EVENT || len > MAX_PAYLOAD) {
      const problem = headProblem(len, type);
      if (problem) return { at, problem };
    }
    const size = len + RECORD_OVERHEAD;
    if (room - at < size) return { at, problem: 'record runs past the end of the segment' };
    if (n - at < size) return { at };
    if (checkCrc && !crcMatches(buf, at, len)) return { at, problem: 'record checksum mismatch' };
    if (type === EVENT) v.event(buf, at, len);
    else v.seal(buf, at);
    at += size;
  }
  return { at };
}

/** What opening found in the appender. */
export interface Appender {
  /** Where its valid records end. */
  readonly end: number;
  readonly events: number;
  readonly eventBytes: number;
  /** Event bytes after the last seal. */
  readonly sinceSeal: number;
}

/** Where the appender's records start, and their sizes (negative for seals). */
class Index implements Visitor {
  readonly starts: number[] = [];
  readonly sizes: number[] = [];
  private offset = 0;

  at(offset: number): this {
    this.offset = offset;
    return this;
  }

  event(_buf: Buffer, at: number, len: number): void {
    this.starts.push(this.offset + at);
    this.sizes.push(len + RECORD_OVERHEAD);
  }

  seal(buf: Buffer, at: number): void {
    this.starts.push(this.offset + at);
    this.sizes.push(-(buf.readUInt32BE(at) + RECORD_OVERHEAD));
  }
}

/**
 * Frames the appender (no CRCs: replay checks those), then decides its end: the records at the end
 * that fail their CRC, or a record that cannot be framed, start a torn tail unless a valid record
 * starts somewhere after them (then the appender is corrupt). A damaged record before a good one
 * is left for replay to report.
 */
export async function scanAppender(file: SegmentFile, from: number, end: number): Promise<Appender> {
  const index = new Index();
  // Only offsets are kept: the chunks can be read into recycled memory.
  const chunks = new ChunkReader(file, from, end, []);
  let stop = end;
  let reason = '';
  for (let piece = await chunks.next(); piece; piece = await chunks.next()) {
    const r = walk(piece.buf, 0, end - piece.offset, false, index.at(piece.offset));
    if (r.problem !== undefined) {
      stop = piece.offset + r.at;
      reason = r.problem;
      break;
    }
    chunks.done(r.at);
  }
  const { starts, sizes } = index;
  let k = starts.length;
  while (k > 0 && !(await crcOk(file, starts[k - 1]!, Math.abs(sizes[k - 1]!)))) {
    k--;
    reason = 'record checksum mismatch';
  }
  const cut = k < starts.length ? starts[k]! : stop;
  if (cut < end && (await validRecordAfter(file, cut, end))) throw new LogCorruptError(file.name, cut, reason);
  let events = 0;
  let eventBytes = 0;
  let sinceSeal = 0;
  for (let i = 0; i < k; i++) {
    const size = sizes[i]!;
    if (size < 0) {
      sinceSeal = 0;
      continue;
    }
    events++;
    eventBytes += size;
    sinceSeal += size;
  }
  return { end: cut, events, eventBytes, sinceSeal };
}

async function crcOk(file: SegmentFile, at: number, size: number): Promise<boolean> {
  const rec = await file.read(at, size);
  return rec.length === size && crcMatches(rec, 0, size - RECORD_OVERHEAD);
}

/** Whether a valid record starts at any byte offset in (from, end): the test for a torn tail. */
export async function validRecordAfter(file: SegmentFile, from: number, end: number): Promise<boolean> {
  let base = from + 1;
  while (end - base >= RECORD_OVERHEAD) {
    const buf = await file.read(base, Math.min(CHUNK, end - base));
    const heads = buf.length - 4; // offsets whose 5-byte head is in this buffer
    if (heads <= 0) return false;
    for (let i = 0; i < heads; i++) {
      const len = buf.readUInt32BE(i);
      if (headProblem(len, buf[i + 4]) !== undefined || base + i + len + RECORD_OVERHEAD > end) continue;
      const rec = i + len + RECORD_OVERHEAD <= buf.length ? buf.subarray(i) : await file.read(base + i, len + RECORD_OVERHEAD);
      if (crcMatches(rec, 0, len)) return true;
    }
    base += heads;
  }
  return false;
}

/** Feeds the bytes [from, end) of a segment to a seal chain. */
export async function hashBody(file: SegmentFile, from: number, end: number, chain: SealChain): Promise<void> {
  for (let at = from; at < end; ) {
    const buf = await file.read(at, Math.min(CHUNK, end - at));
    if (buf.length === 0) throw new LogCorruptError(file.name, at, 'segment is shorter than expected');
    chain.update(buf);
    at += buf.length;
  }
}
