// Group commit: one write (and at most one fdatasync) at a time. A caller waits until the writes
// cover everything placed before it called; whoever finds no write running starts one, and that
// write takes everything placed by the time it starts, so callers that arrive during a write share
// the next.

export interface CommitTarget {
  /** Grows with everything placed for writing (records, new segments). */
  readonly mark: number;
  /** Writes everything placed so far, fdatasyncs if `durable`; the mark it covered. */
  write(durable: boolean): Promise<number>;
}

export class GroupCommit {
  private written: number;
  private synced: number;
  private running: Promise<void> | undefined;
  /** A waiter needs the next write to fdatasync. */
  private durableWanted = false;

  constructor(
    private readonly target: CommitTarget,
    /** The mark that is already on disk. */
    start: number,
  ) {
    this.written = start;
    this.synced = start;
  }

  commit(durable: boolean): Promise<void> {
    const mark = this.target.mark;
    return this.covered(mark, durable) ? Promise.resolve() : this.wait(mark, durable);
  }

  /** Resolves when no write is running (errors are the callers' business). */
  async settled(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  private async wait(mark: number, durable: boolean): Promise<void> {
    do {
      if (durable) this.durableWanted = true; // for the next write, if the running one falls short
      await (this.running ?? this.start());
    } while (!this.covered(mark, durable));
  }

  private covered(mark: number, durable: boolean): boolean {
    return (durable ? this.synced : this.written) >= mark;
  }

  private start(): Promise<void> {
    // The write starts one turn of the event loop later: the committers that the last write woke
    // commit again within this turn, and so all share the next fdatasync instead of the first of
    // them taking one alone and the rest waiting for the one after.
    const run = new Promise((resolve) => setImmediate(resolve)).then(async () => {
      const durable = this.durableWanted;
      this.durableWanted = false;
      const took = await this.target.write(durable);
      this.written = Math.max(this.written, took);
      if (durable) this.synced = Math.max(this.synced, took);
    });
    this.running = run;
    const done = (): void => {
      this.running = undefined;
    };
    run.then(done, done);
    return run;
  }
}
