// Runs a chain's compactions: on demand, once at open (compactBootstrap), and when its compact
// mode says so. Runs never overlap, timers never keep the process alive, and a failure of a run
// nobody awaits goes to the error listeners (or a process warning), never into the void.
import { ClosedError } from '../../errors.js';
import type { ChainConfig, CompactMode } from '../config.js';
import { FACTOR_FLOOR_BYTES, grownEnough, intervalOf, watchesWrites } from './triggers.js';
import type { CompactionStats } from './types.js';

/** What the scheduler needs of a chain. */
export interface SchedulerHost {
  readonly key: string;
  readonly config: Pick<ChainConfig, 'compactMode' | 'compactBootstrap'>;
  /** Bytes of the log's current generation. */
  readonly logSize: number;
  /** Called after every event the chain applies. */
  onEvent(listener: () => void): () => void;
}

export interface SchedulerOptions {
  /** The growth-factor modes ignore logs smaller than this (default 2 MiB, as in the reference). */
  readonly factorFloorBytes?: number;
  /** The modified mode compacts once no event was written for this long (default 1 s). */
  readonly idleMs?: number;
}

type Listener<T> = (value: T) => void;

export class CompactionScheduler {
  private readonly mode: CompactMode;
  private readonly floorBytes: number;
  private readonly idleMs: number;
  private readonly compactedListeners = new Set<Listener<CompactionStats>>();
  private readonly errorListeners = new Set<Listener<Error>>();
  /** Runs queue behind each other; this settles when the last queued one has. */
  private queue: Promise<unknown> = Promise.resolve();
  private jobs = 0;
  /** A trigger fired while a run was queued or running: look again when they are done. */
  private again = false;
  private stopped = false;
  /** Log size after the last compaction: growth is measured from it. */
  private baseline = 0;
  private lastRun = 0;
  private lastWrite = 0;
  private dirty = false;
  private intervalTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly host: SchedulerHost,
    private readonly compact: () => Promise<CompactionStats>,
    options: SchedulerOptions = {},
  ) {
    this.mode = host.config.compactMode;
    this.floorBytes = options.factorFloorBytes ?? FACTOR_FLOOR_BYTES;
    this.idleMs = options.idleMs ?? 1000;
  }

  /** Compacts once if the chain asks for it at open, then arms the triggers. */
  async start(): Promise<void> {
    this.baseline = this.host.logSize;
    this.lastRun = Date.now();
    if (this.host.config.compactBootstrap) await this.run().catch((err: unknown) => this.report(err));
    if (this.stopped) return;
    if (watchesWrites(this.mode)) this.unsubscribe = this.host.onEvent(() => this.written());
    this.armInterval();
  }

  /** Compacts now, after any run already queued. */
  run(): Promise<CompactionStats> {
    if (this.stopped) return Promise.reject(this.closed());
    return this.enqueue(() => this.once());
  }

  /** Disarms the triggers and waits for queued runs to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.intervalTimer);
    clearTimeout(this.idleTimer);
    this.unsubscribe?.();
    await this.queue;
  }

  onCompacted(listener: Listener<CompactionStats>): () => void {
    this.compactedListeners.add(listener);
    return () => this.compactedListeners.delete(listener);
  }

  /** Failures of triggered runs; without a listener they become process warnings. */
  onError(listener: Listener<Error>): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    this.jobs++;
    const result = this.queue.then(job).finally(() => {
      if (--this.jobs === 0 && this.again) {
        this.again = false;
        this.evaluate();
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async once(): Promise<CompactionStats> {
    if (this.stopped) throw this.closed();
    // Whatever started this run, it compacts the writes made so far.
    this.dirty = false;
    try {
      const stats = await this.compact();
      this.baseline = this.host.logSize;
      this.notify(this.compactedListeners, stats);
      return stats;
    } finally {
      this.lastRun = Date.now();
      this.armInterval();
    }
  }

  private trigger(): void {
    if (this.stopped) return;
    if (this.jobs > 0) {
      this.again = true;
      return;
    }
    void this.enqueue(() => (this.stopped ? Promise.resolve() : this.once().then(undefined, (err: unknown) => this.report(err))));
  }

  /** Runs inside the chain's ingest path for every event: cheap checks only. */
  private written(): void {
    this.dirty = true;
    this.lastWrite = Date.now();
    this.evaluate();
  }

  private evaluate(): void {
    if (this.stopped) return;
    if (this.mode.kind === 'modified') {
      if (this.dirty) this.armIdle();
      return;
    }
    const size = this.host.logSize;
    // The log shrank without us (a rewrite elsewhere): measure from where it is now.
    if (size < this.baseline) this.baseline = size;
    if (grownEnough(this.mode, size, this.baseline, this.floorBytes)) this.trigger();
  }

  private armIdle(delay = this.idleMs): void {
    if (this.idleTimer !== undefined) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const quiet = Date.now() - this.lastWrite;
      if (quiet < this.idleMs) this.armIdle(this.idleMs - quiet);
      else if (this.dirty) this.trigger();
    }, delay);
    this.idleTimer.unref();
  }

  /** The timer modes count from the end of the last compaction, whatever started it. */
  private armInterval(): void {
    const interval = intervalOf(this.mode);
    if (interval === undefined || this.stopped) return;
    clearTimeout(this.intervalTimer);
    this.intervalTimer = setTimeout(() => this.trigger(), Math.max(0, interval - (Date.now() - this.lastRun)));
    this.intervalTimer.unref();
  }

  private report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.errorListeners.size > 0) this.notify(this.errorListeners, error);
    else warn(`compaction of chain ${this.host.key} failed: ${error.message}`);
  }

  private notify<T>(listeners: ReadonlySet<Listener<T>>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (err) {
        warn(`a compaction listener of chain ${this.host.key} threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private closed(): ClosedError {
    return new ClosedError(`chain ${this.host.key} is closing: no more compactions`);
  }
}

function warn(message: string): void {
  process.emitWarning(message, { code: 'ATE_COMPACTION' });
}
