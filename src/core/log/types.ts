// The redo log's public types. The log stores opaque event byte strings; the chain encodes them.

/** Identifies one segment file of one generation (see docs/FORMAT.md: `gen * 2^21 + seq`). */
export type SegmentNo = number & { readonly __brand: 'SegmentNo' };

/** Where a record lives: `offset` is its first byte in that segment file. */
export interface LogPosition {
  readonly segment: SegmentNo;
  readonly offset: number;
}

/** `cutOff`: ms since the epoch; events before it were compacted away. */
export interface LogHeader {
  readonly chainKey: string;
  readonly cutOff: number;
}

/** `bytes` are read-only views into the log's read buffers: copy them to keep them past the batch. */
export interface ReplayBatch {
  readonly events: ReadonlyArray<{ readonly bytes: Uint8Array; readonly pos: LogPosition }>;
  /** true only when a valid seal follows every event of the batch (docs/FORMAT.md, "Seal"). */
  readonly sealed: boolean;
}

/** Counters for tests and benchmarks. */
export interface LogStats {
  /** Write calls (one `writev` per flush and segment). */
  readonly writes: number;
  /** fdatasync/fsync calls, directory syncs included. */
  readonly syncs: number;
}

export interface ReplayOptions {
  readonly checks?: 'seal' | 'crc';
  readonly transient?: boolean;
}

export interface RedoLog {
  readonly header: LogHeader;
  /** Events in the log (current generation). */
  readonly count: number;
  /** Bytes of event records, framing included, in the current generation. */
  readonly size: number;
  readonly stats: LogStats;
  /** Queues the event in the write buffer and returns the position its record will have. */
  append(event: Uint8Array): LogPosition;
  /** Writes everything queued (group commit); with `durable`, also fdatasyncs before resolving. */
  flush(opts?: { durable?: boolean }): Promise<void>;
  /** One event's bytes, from the write buffer if not yet written. */
  read(pos: LogPosition): Promise<Uint8Array>;
  /**
   * Every event of the log, in order, as it is when the iteration starts (queued events are
   * flushed first). Checks every record: LogCorruptError names the damaged one. A compaction that
   * completes meanwhile ends it with ClosedError. With `checks: 'crc'` a log with a seal key is read
   * as one without: each record's CRC is checked and no seal (every batch is unsealed), half the
   * cost of the seal chain's hash, for readers that do not trust ids (streaming to a peer). With
   * `transient` (and no seal checked, which holds events back across reads), a batch's bytes are
   * valid only until the next batch is asked for: the reads reuse their memory.
   */
  replay(opts?: ReplayOptions): AsyncIterable<ReplayBatch>;
  /** Closes the current segment (fdatasync) and starts the next. */
  rotate(): Promise<void>;
  /**
   * Compaction: a new generation holding exactly `events` (unchanged until this resolves), swapped
   * in atomically; their new positions. From the call on, header, count and size are the new
   * generation's and appends go after the compacted events; positions from before stay readable
   * until it resolves, then are refused. One compaction at a time.
   */
  rewrite(events: Iterable<Uint8Array>, header: LogHeader): Promise<LogPosition[]>;
  /** Flushes durably (sealing this session's events, with a seal key) and closes the files. */
  close(): Promise<void>;
  /** Closes the log and deletes its files. */
  destroy(): Promise<void>;
}

export interface OpenLogOptions {
  /** Stored in every segment header; opening a log of another chain is LogForeignFileError. */
  chainKey: string;
  /** Default true; false and missing: an AteError saying the log does not exist. */
  create?: boolean;
  /** Start empty (a new generation replaces the old one). */
  truncate?: boolean;
  /** 32-byte HMAC key for seals (docs/FORMAT.md, "Seal"). */
  sealKey?: Uint8Array;
  /** Rotate before an event that would take the current segment past this (default 256 MiB). */
  segmentBytes?: number;
  /** For a new (or truncated) log; an existing log keeps the cut-off in its header. */
  cutOff?: number;
  /** Informational: a torn record at the end of the log was cut off on open. */
  onTornTail?: (file: string, offset: number, droppedBytes: number) => void;
}
