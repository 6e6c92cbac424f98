// One generation of a log: its segments, the appender's layout, write buffer and group commit, and
// random reads. A compaction builds the next generation beside the live one.
import { AteError, LogCorruptError } from '../errors.js';
import {
  EVENT,
  HASH_BYTES,
  RECORD_OVERHEAD,
  crcMatches,
  encodeHeader,
  headProblem,
  segmentNo,
} from './format.js';
import { GroupCommit, type CommitTarget } from './group-commit.js';
import { Layout, type LayoutRules, type LayoutSink, type LayoutState } from './layout.js';
import { SealChain, SealWriter, firstBase } from './seal.js';
import type { SegmentFile, SegmentStore } from './store.js';
import type { LogHeader, LogPosition, SegmentNo } from './types.js';
import { WriteBuffer } from './write-buffer.js';

/** A compaction writes its events in batches of about this many bytes. */
const BULK_BATCH = 8 * 1024 * 1024;
/**
 * read() reads this much first, or as much as the last record it read took, up to the cap: a file
 * read is a round trip through libuv's thread pool, and atefs reads its 128 KiB chunks in a row.
 */
const SPECULATIVE_READ = 4096;
const MAX_SPECULATIVE_READ = 1024 * 1024;
/** A read that got more than an eighth (or 4 KiB) beyond its record is copied out, so the rest is not kept alive. */
const KEEP_SLACK = 4096;

export interface SegState {
  readonly seq: number;
  readonly no: SegmentNo;
  readonly countBefore: number;
  readonly bytesBefore: number;
  /** The seal chain value at the segment's start, when the writer knows it (zeros otherwise). */
  base: Buffer;
  /** Unset until the segment is created. */
  file: SegmentFile | undefined;
  /** Bytes in the file, and how many of them are fdatasynced. */
  written: number;
  synced: number;
}

export interface GenerationInit {
  readonly store: SegmentStore;
  readonly gen: number;
  readonly header: LogHeader;
  readonly chainKey: Buffer;
  readonly sealKey: Uint8Array | undefined;
  readonly segmentBytes: number;
  /** Existing segments (on open); a new generation starts with none. */
  readonly segs?: SegState[];
  readonly layout?: LayoutState;
  /** With a seal key, on open: the writer's chain at the end of the appender, computed when first needed. */
  readonly resume?: () => Promise<SealChain>;
  /** Writes of the live buffer wait for this (a compaction's generation, until it is live). */
  readonly ready?: Promise<void>;
}

export class Generation implements LayoutSink, CommitTarget {
  readonly gen: number;
  readonly header: LogHeader;
  readonly headerLength: number;
  readonly segs: SegState[];
  readonly layout: Layout;
  private readonly store: SegmentStore;
  private readonly chainKey: Buffer;
  private readonly rules: LayoutRules;
  private readonly buffer: WriteBuffer;
  private readonly sealKey: Uint8Array | undefined;
  private readonly resume: (() => Promise<SealChain>) | undefined;
  /** With a seal key: unset until the chain is known (see resume). */
  private sealer: SealWriter | undefined;
  private readonly committer: GroupCommit;
  /** Counts what was placed for writing (see CommitTarget). */
  private placed: number;
  private readonly ready: Promise<void>;
  /** The highest segment whose file exists; -1 before the first. */
  private fileSeq: number;
  /** How much read() asks for first (the size of the last record it read). */
  private firstRead = SPECULATIVE_READ;
  private failure: AteError | undefined;

  constructor(init: GenerationInit) {
    this.store = init.store;
    this.buffer = new WriteBuffer(!init.store.keepsBuffers);
    this.gen = init.gen;
    this.header = init.header;
    this.chainKey = init.chainKey;
    this.headerLength = encodeHeader({ ...this.headerFields(0), base: Buffer.alloc(HASH_BYTES) }).length;
    this.rules = { headerLength: this.headerLength, segmentBytes: init.segmentBytes, sealing: init.sealKey !== undefined };
    this.ready = init.ready ?? Promise.resolve();
    const base0 = firstBase(this.gen, this.header.cutOff, this.chainKey);
    this.segs = init.segs ?? [this.newSeg(0, 0, 0, base0)];
    this.fileSeq = init.segs ? init.segs.length - 1 : -1;
    this.placed = init.segs ? 0 : 1; // a new generation's first segment is yet to be created
    this.committer = new GroupCommit(this, 0);
    this.layout = init.layout ? new Layout(this.rules, init.layout) : Layout.fresh(this.rules);
    this.sealKey = init.sealKey;
    this.resume = init.resume;
    if (init.sealKey && !init.resume) this.sealer = this.sealWriter(init.sealKey, SealChain.start(base0), 0);
  }

  append(event: Uint8Array): LogPosition {
    this.check();
    const at = this.layout.event(event, this);
    return { segment: this.segs[at.seq]!.no, offset: at.offset };
  }

  flush(durable: boolean): Promise<void> {
    return this.committer.commit(durable);
  }

  rotate(): Promise<void> {
    this.check();
    this.layout.rotate(this);
    return this.flush(true);
  }

  /** Lays out a compaction's events (their positions) without buffering them: see writeBulk. */
  plan(events: readonly Uint8Array[]): LogPosition[] {
    const planner: LayoutSink = { event() {}, seal() {}, segment: (seq, c, b) => this.segment(seq, c, b) };
    const out = events.map((e) => {
      const at = this.layout.event(e, planner);
      return { segment: this.segs[at.seq]!.no, offset: at.offset };
    });
    this.layout.seal(planner);
    return out;
  }

  /** Writes the events that plan() laid out, durably, in batches; the segments it registered. */
  async writeBulk(events: readonly Uint8Array[]): Promise<void> {
    const layout = Layout.fresh(this.rules);
    const buffer = new WriteBuffer(!this.store.keepsBuffers);
    const sink: LayoutSink = { event: (s, o, e) => buffer.event(s, o, e), seal: (s, o, c) => buffer.seal(s, o, c), segment() {} };
    for (const e of events) {
      layout.event(e, sink);
      if (buffer.untaken >= BULK_BATCH) await this.writeOut(buffer, layout.state.seq, false);
    }
    layout.seal(sink);
    await this.writeOut(buffer, layout.state.seq, true);
  }

  async read(seq: number, offset: number): Promise<Uint8Array> {
    this.check();
    const seg = this.segs[seq];
    if (!seg || offset < this.headerLength) throw noRecord(seq, offset);
    if (offset >= seg.written) {
      // Not yet in the file: the write buffer has it (the check and the copy are synchronous).
      const rec = this.buffer.find(seq, offset);
      if (!rec || rec[4] !== EVENT) throw noRecord(seq, offset);
      return Buffer.from(rec.subarray(5, 5 + rec.readUInt32BE(0)));
    }
    const file = seg.file!;
    const room = seg.written - offset;
    let rec = await file.read(offset, Math.min(this.firstRead, room));
    const len = rec.length >= 5 ? rec.readUInt32BE(0) : 0;
    const problem = rec.length < RECORD_OVERHEAD ? 'record shorter than its framing' : headProblem(len, rec[4]);
    if (problem) throw new LogCorruptError(file.name, offset, problem);
    if (len + RECORD_OVERHEAD > room) throw new LogCorruptError(file.name, offset, 'record runs past the end of the segment');
    if (len + RECORD_OVERHEAD > rec.length) rec = await file.read(offset, len + RECORD_OVERHEAD);
    if (!crcMatches(rec, 0, len)) throw new LogCorruptError(file.name, offset, 'record checksum mismatch');
    if (rec[4] !== EVENT) throw noRecord(seq, offset);
    this.firstRead = Math.min(MAX_SPECULATIVE_READ, Math.max(SPECULATIVE_READ, len + RECORD_OVERHEAD));
    const payload = rec.subarray(5, 5 + len);
    const slack = rec.length - len - RECORD_OVERHEAD;
    return slack > Math.min(KEEP_SLACK, len >> 3) ? Buffer.from(payload) : payload;
  }

  /**
   * A replay's chain, recomputed through the end of the appender: the writer goes on from it rather
   * than hashing the appender again, if nothing was written since and it agrees with the appender's
   * stored base (a writer never builds on a history that disagrees with what it stored).
   */
  adoptChain(chain: SealChain, base: Buffer, seq: number, end: number): void {
    const seg = this.segs[seq];
    if (!this.sealKey || this.sealer || seq !== this.fileSeq || !seg || end !== seg.written) return;
    if (seq > 0 && !base.equals(seg.base)) return;
    this.sealer = this.sealWriter(this.sealKey, chain, seq);
  }

  /** The created segments and their data ends, as of now. */
  snapshot(): Array<{ readonly seg: SegState; readonly end: number }> {
    return this.segs.slice(0, this.fileSeq + 1).map((seg) => ({ seg, end: seg.written }));
  }

  /** Marks the generation unusable after a failed write; every later call throws this. */
  fail(cause: unknown): AteError {
    if (!this.failure) {
      const why = cause instanceof Error ? cause.message : String(cause);
      this.failure = new AteError(`redo log ${this.store.name} could not be written (${why}); reopen it`, { cause });
    }
    return this.failure;
  }

  /** Waits for writes in flight, then closes the files. */
  async close(): Promise<void> {
    await this.committer.settled();
    for (const seg of this.segs) await seg.file?.close();
  }

  // ---- LayoutSink: what the layout decided, into the live write buffer

  event(seq: number, offset: number, event: Uint8Array): void {
    this.buffer.event(seq, offset, event);
    this.placed++;
  }

  seal(seq: number, offset: number, count: number): void {
    this.buffer.seal(seq, offset, count);
  }

  segment(seq: number, countBefore: number, bytesBefore: number): void {
    this.segs[seq] = this.newSeg(seq, countBefore, bytesBefore, Buffer.alloc(HASH_BYTES));
    this.placed++;
  }

  // ---- CommitTarget: the group commit's write

  get mark(): number {
    return this.placed;
  }

  async write(durable: boolean): Promise<number> {
    await this.ready;
    this.check();
    if (this.sealKey && !this.sealer) {
      // The first write: no segment was created since opening, so the chain ends the appender.
      const chain = await this.resume!().catch((e: unknown) => {
        throw this.fail(e);
      });
      this.sealer ??= this.sealWriter(this.sealKey, chain, this.fileSeq);
    }
    this.layout.seal(this); // every flush that wrote events ends with a seal
    const took = this.placed;
    await this.writeOut(this.buffer, this.layout.state.seq, durable);
    return took;
  }

  /** Writes what `buffer` holds, creating the segments up to `toSeq` on the way. */
  private async writeOut(buffer: WriteBuffer, toSeq: number, durable: boolean): Promise<void> {
    const writes = buffer.take(this.sealer);
    this.sealer?.advanceTo(toSeq);
    try {
      let i = 0;
      for (let seq = Math.max(this.fileSeq, 0); seq <= toSeq; seq++) {
        if (seq > this.fileSeq) await this.create(seq);
        const seg = this.segs[seq]!;
        for (let w = writes[i]; w && w.seq === seq; w = writes[++i]) {
          await seg.file!.write(w.offset, w.buffers);
          seg.written = w.end;
        }
      }
      if (durable) await this.sync(this.segs[this.fileSeq]!);
      buffer.release((seq, end) => end <= this.segs[seq]!.written);
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** fdatasyncs the segment it leaves (it becomes an archive), then creates the next. */
  private async create(seq: number): Promise<void> {
    if (this.fileSeq >= 0) await this.sync(this.segs[this.fileSeq]!);
    const seg = this.segs[seq]!;
    seg.file = await this.store.create(this.gen, seq, encodeHeader({ ...this.headerFields(seq), countBefore: seg.countBefore, bytesBefore: seg.bytesBefore, base: seg.base }));
    seg.written = seg.synced = this.headerLength;
    this.fileSeq = seq;
  }

  private async sync(seg: SegState): Promise<void> {
    if (seg.synced === seg.written) return;
    const upTo = seg.written;
    await seg.file!.sync();
    seg.synced = upTo;
  }

  private headerFields(seq: number) {
    return { gen: this.gen, seq, cutOff: this.header.cutOff, countBefore: 0, bytesBefore: 0, chainKey: this.chainKey };
  }

  /** A writer whose chain stands at the end of segment `seq`'s data so far. */
  private sealWriter(key: Uint8Array, chain: SealChain, seq: number): SealWriter {
    return new SealWriter(key, chain, seq, (seq, base) => {
      this.segs[seq]!.base = base;
    });
  }

  private newSeg(seq: number, countBefore: number, bytesBefore: number, base: Buffer): SegState {
    return { seq, no: segmentNo(this.gen, seq), countBefore, bytesBefore, base, file: undefined, written: 0, synced: 0 };
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}

function noRecord(seq: number, offset: number): AteError {
  return new AteError(`the redo log holds no event record at segment ${seq} offset ${offset}`);
}
