// The RedoLog over a store: routes calls to the live generation, and runs compactions, which build
// the next generation beside it and swap it in.
import { AteError, ClosedError, ConfigError } from '../errors.js';
import { checkCutOff, type LogConfig } from './config.js';
import { MAX_PAYLOAD, splitSegmentNo } from './format.js';
import { Generation } from './generation.js';
import { replayGeneration } from './replay.js';
import type { MutableStats, SegmentStore } from './store.js';
import type { LogHeader, LogPosition, RedoLog, ReplayBatch, ReplayOptions } from './types.js';

export class LogImpl implements RedoLog {
  /** The generation before a running compaction: positions in it stay readable until the swap. */
  private retiring: Generation | undefined;
  private compacting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly store: SegmentStore,
    private readonly config: LogConfig,
    private live: Generation,
    readonly stats: MutableStats,
  ) {}

  get header(): LogHeader {
    return this.live.header;
  }

  get count(): number {
    return this.live.layout.state.count;
  }

  get size(): number {
    return this.live.layout.state.bytes;
  }

  append(event: Uint8Array): LogPosition {
    this.checkOpen();
    checkEvent(event);
    return this.live.append(event);
  }

  async flush(opts?: { durable?: boolean }): Promise<void> {
    this.checkOpen();
    await this.live.flush(opts?.durable === true);
  }

  async read(pos: LogPosition): Promise<Uint8Array> {
    this.checkOpen();
    const { gen, seq } = splitSegmentNo(pos.segment);
    const g = gen === this.live.gen ? this.live : gen === this.retiring?.gen ? this.retiring : undefined;
    if (!g) throw new AteError(`position ${pos.segment}:${pos.offset} is from generation ${gen} of redo log ${this.store.name}, which is not live (compacted away); look the event up again`);
    return g.read(seq, pos.offset);
  }

  /** Covers what was appended when the iteration starts (it flushes first). */
  async *replay(opts?: ReplayOptions): AsyncGenerator<ReplayBatch> {
    this.checkOpen();
    await this.live.flush(false);
    const sealKey = opts?.checks === 'crc' ? undefined : this.config.sealKey;
    yield* replayGeneration(this.live, this.config.chainKeyBytes, sealKey, opts?.transient === true);
  }

  async rotate(): Promise<void> {
    this.checkOpen();
    await this.live.rotate();
  }

  async rewrite(events: Iterable<Uint8Array>, header: LogHeader): Promise<LogPosition[]> {
    this.checkOpen();
    if (this.compacting) throw new AteError(`a compaction of redo log ${this.store.name} is already running; wait for it`);
    if (header.chainKey !== this.config.chainKey) throw new ConfigError(`rewrite cannot change the chain key of redo log ${this.store.name}`);
    checkCutOff(header.cutOff);
    const list = Array.from(events, checkEvent);
    let goLive!: () => void;
    let failLive!: (e: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      goLive = resolve;
      failLive = reject;
    });
    ready.catch(() => undefined); // the new generation's writers see the failure
    const old = this.live;
    const next = new Generation({
      store: this.store,
      gen: old.gen + 1,
      header: { chainKey: header.chainKey, cutOff: header.cutOff },
      chainKey: this.config.chainKeyBytes,
      sealKey: this.config.sealKey,
      segmentBytes: this.config.segmentBytes,
      ready,
    });
    // Synchronously: appends from now on go after the compacted events, in the new generation.
    const positions = next.plan(list);
    this.live = next;
    this.retiring = old;
    const work = this.compact(old, next, list, goLive);
    this.compacting = work.then(
      () => undefined,
      () => undefined,
    );
    try {
      await work;
    } catch (e) {
      const failure = next.fail(e);
      failLive(failure);
      await old.close().catch(() => undefined);
      throw failure;
    } finally {
      this.compacting = undefined;
      this.retiring = undefined;
    }
    return positions;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  async destroy(): Promise<void> {
    await this.close().catch(() => undefined); // the files go either way
    await this.store.destroy();
  }

  private async compact(old: Generation, next: Generation, events: Uint8Array[], goLive: () => void): Promise<void> {
    // Events queued before the compaction keep their (old) positions readable until the swap.
    await old.flush(false).catch(() => undefined);
    await next.writeBulk(events);
    await this.store.commit(next.gen);
    goLive();
    // The new generation is live: a failed clean-up only leaves files that the next open deletes.
    await old
      .close()
      .then(() => this.store.drop(old.gen))
      .catch(() => undefined);
  }

  private async shutdown(): Promise<void> {
    await this.compacting;
    try {
      await this.live.flush(true);
    } finally {
      await this.live.close();
    }
  }

  private checkOpen(): void {
    if (this.closing) throw new ClosedError(`redo log ${this.store.name} is closed`);
  }
}

function checkEvent(event: Uint8Array): Uint8Array {
  if (event.length > MAX_PAYLOAD) throw new ConfigError(`an event of ${event.length} bytes is larger than the redo log's limit of ${MAX_PAYLOAD}`);
  return event;
}
