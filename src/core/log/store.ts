// Where segments live: files in a directory, or buffers in memory. The log's logic above this is
// the same for both, so the in-memory twin lays out positions, seals and rotations identically.

/** Counters shared by a log's stores and generations. */
export interface MutableStats {
  writes: number;
  syncs: number;
}

export interface SegmentFile {
  /** Names the segment in errors (a path for files). */
  readonly name: string;
  /**
   * Up to `length` bytes from `offset`: fewer only at the end of the data, or (in memory) at the
   * end of a written batch, which always ends on a record boundary. With `into` (at least `length`
   * bytes), files read into it and return a view of it: no new memory per read.
   */
  read(offset: number, length: number, into?: Buffer): Promise<Buffer>;
  /** Writes `parts` back to back at `offset`, the end of the data. */
  write(offset: number, parts: Buffer[]): Promise<void>;
  /** fdatasync. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface SegmentStore {
  /** Names the log in errors. */
  readonly name: string;
  /** Whether the store keeps the buffers given to write() (then they must never change). */
  readonly keepsBuffers: boolean;
  /** A new segment holding `header`, durably (with its directory entry). */
  create(gen: number, seq: number, header: Buffer): Promise<SegmentFile>;
  /** Makes `gen` the live generation (CURRENT). */
  commit(gen: number): Promise<void>;
  /** Deletes the segments of `gen` (their files are closed). */
  drop(gen: number): Promise<void>;
  /** Deletes everything of the log. */
  destroy(): Promise<void>;
}
