// Replay: every event of a generation in order, read one chunk ahead in big chunks, framed
// synchronously and yielded as views into the chunks (no per-event copy). Each chunk is checked
// (verify.ts) before its events go out; with a seal key, events wait for a seal to decide them.
import { LogCorruptError } from '../errors.js';
import { EVENT, RECORD_OVERHEAD, crcMatches } from './format.js';
import type { Generation, SegState } from './generation.js';
import { ChunkReader, type ChunkPool, type Piece } from './chunks.js';
import { walk, type Visitor } from './scan.js';
import { firstBase } from './seal.js';
import type { LogPosition, ReplayBatch, SegmentNo } from './types.js';
import { Verifier } from './verify.js';

/** Events held back waiting for a seal; a writer with the key seals well within this. */
const SEAL_WINDOW = 72 * 1024 * 1024;

type Item = { readonly bytes: Uint8Array; readonly pos: LogPosition };

/** `transient` (only without a seal key, which holds events back): batches live until the next is asked for. */
export async function* replayGeneration(gen: Generation, chainKey: Buffer, sealKey: Uint8Array | undefined, transient = false): AsyncGenerator<ReplayBatch> {
  const verifier = new Verifier(sealKey, firstBase(gen.gen, gen.header.cutOff, chainKey));
  const replay = new Replay(verifier, sealKey !== undefined);
  const pool: ChunkPool | undefined = transient && !sealKey ? [] : undefined;
  const segments = gen.snapshot();
  for (const { seg, end } of segments) {
    replay.startSegment(seg);
    const chunks = new ChunkReader(seg.file!, gen.headerLength, end, pool);
    for (let piece = await chunks.next(); piece; piece = await chunks.next()) {
      chunks.done(replay.chunk(piece, end - piece.offset));
      yield* replay.drain();
    }
    replay.endSegment(end);
  }
  yield* replay.finish();
  const last = segments[segments.length - 1];
  // The writer may go on from this chain instead of hashing the appender again.
  if (last && verifier.state) gen.adoptChain(verifier.state, verifier.base!, last.seg.seq, last.end);
}

class Replay implements Visitor {
  private readonly names = new Map<SegmentNo, string>();
  private out: ReplayBatch[] = [];
  /** Checked events waiting for a seal (with a key). */
  private held: Item[] = [];
  private heldBytes = 0;
  private count = 0;
  private bytes = 0;
  private seg!: SegState;
  private name = '';
  private last: { name: string; end: number } | undefined;
  // The chunk being framed.
  private offset = 0;
  private ab: ArrayBufferLike = new ArrayBuffer(0);
  private base = 0;
  private items: Item[] = [];
  private chunkBytes = 0;
  private records: number[] = [];
  private seals: number[] = [];
  private covers: number[] = [];

  constructor(
    private readonly verifier: Verifier,
    private readonly keyed: boolean,
  ) {}

  startSegment(seg: SegState): void {
    const name = seg.file!.name;
    if (this.count !== seg.countBefore || this.bytes !== seg.bytesBefore) {
      const [file, at] = this.last ? [this.last.name, this.last.end] : [name, 28];
      throw new LogCorruptError(file, at, `the generation has ${this.count} events before segment ${seg.seq}, whose header says ${seg.countBefore}`);
    }
    this.seg = seg;
    this.name = name;
    this.names.set(seg.no, name);
    this.verifier.startSegment();
  }

  endSegment(end: number): void {
    this.last = { name: this.name, end };
  }

  /** Frames, checks and releases the whole records of a piece; how many bytes they take. */
  chunk(piece: Piece, room: number): number {
    const { buf } = piece;
    this.offset = piece.offset;
    this.ab = buf.buffer;
    this.base = buf.byteOffset;
    this.items = [];
    this.chunkBytes = 0;
    this.records = [];
    this.seals = [];
    this.covers = [];
    const { at, problem } = walk(buf, 0, room, false, this);
    if (problem !== undefined) this.fail(buf, at, problem);
    const v = this.verifier.check(buf.subarray(0, at), this.records, this.seals);
    if (v.badAt >= 0) throw new LogCorruptError(this.name, this.offset + v.badAt, 'record checksum mismatch');
    if (!this.keyed) {
      if (this.items.length > 0) this.out.push({ events: this.items, sealed: false });
    } else if (v.sealIndex >= 0) {
      const covered = this.covers[v.sealIndex]!;
      const events = this.held.length > 0 ? this.held.concat(this.items.slice(0, covered)) : this.items.slice(0, covered);
      this.held = this.items.slice(covered);
      this.heldBytes = sizeOf(this.held);
      if (events.length > 0) this.out.push({ events, sealed: true });
    } else {
      this.held = this.held.length > 0 ? this.held.concat(this.items) : this.items;
      this.heldBytes += this.chunkBytes;
    }
    if (this.heldBytes > SEAL_WINDOW) this.release();
    return at;
  }

  *drain(): Generator<ReplayBatch> {
    const out = this.out;
    this.out = [];
    yield* out;
  }

  /** The held events: no seal follows them. */
  *finish(): Generator<ReplayBatch> {
    this.release();
    yield* this.drain();
  }

  event(_buf: Buffer, at: number, len: number): void {
    this.items.push({ bytes: new Uint8Array(this.ab, this.base + at + 5, len), pos: { segment: this.seg.no, offset: this.offset + at } });
    this.chunkBytes += len + RECORD_OVERHEAD;
    this.count++;
    this.bytes += len + RECORD_OVERHEAD;
    this.records.push(at);
  }

  seal(_buf: Buffer, at: number): void {
    this.records.push(at);
    if (this.keyed) {
      this.seals.push(at, this.count);
      this.covers.push(this.items.length);
    }
  }

  private release(): void {
    this.checkHeld();
    if (this.held.length > 0) this.out.push({ events: this.held, sealed: false });
    this.held = [];
    this.heldBytes = 0;
  }

  /** A framing problem at `at`: reports the first damaged record before it, or it. */
  private fail(buf: Buffer, at: number, problem: string): never {
    this.checkHeld();
    for (const r of this.records) {
      if (!crcMatches(buf, r, buf.readUInt32BE(r))) throw new LogCorruptError(this.name, this.offset + r, 'record checksum mismatch');
    }
    throw new LogCorruptError(this.name, this.offset + at, problem);
  }

  /** With a key the verifier skips CRCs: events that no seal vouches for get theirs checked here. */
  private checkHeld(): void {
    if (!this.keyed) return;
    for (const { bytes, pos } of this.held) {
      const rec = Buffer.from(bytes.buffer, bytes.byteOffset - 5, bytes.length + RECORD_OVERHEAD);
      if (rec[4] !== EVENT || !crcMatches(rec, 0, bytes.length)) throw new LogCorruptError(this.names.get(pos.segment)!, pos.offset, 'record checksum mismatch');
    }
  }
}

function sizeOf(items: Item[]): number {
  let n = 0;
  for (const e of items) n += e.bytes.length + RECORD_OVERHEAD;
  return n;
}
