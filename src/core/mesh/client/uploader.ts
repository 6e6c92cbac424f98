// Uploads a replica's local events to the home server, in log order, as commits of at most
// 2,000 events or 2 MiB with at most 64 in flight, and settles the waits for their confirmation.
// An event stays pending until the server confirms it: after a reconnect every pending event is
// sent again (the server skips what it already holds).
import type { Chain } from '../../chain/chain.js';
import { CommitError, MeshError } from '../../errors.js';
import type { ClientMessage, ServerMessage, WireConnection } from '../wire/index.js';

type Connection = WireConnection<ServerMessage, ClientMessage>;

const MAX_EVENTS = 2000;
const MAX_BYTES = 2 * 1024 * 1024;
const MAX_IN_FLIGHT = 64;

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class Uploader {
  /** Local events not confirmed yet: ordinal -> bytes (undefined: read them from the log). */
  private readonly pending = new Map<number, Uint8Array | undefined>();
  /** Pending events not sent on the current connection, in log order. */
  private queue: number[] = [];
  private readonly inFlight = new Map<number, readonly number[]>();
  private readonly waiters = new Map<number, Waiter[]>();
  private conn: Connection | undefined;
  private nextCommit = 1;
  private pumping = false;
  private scheduled = false;

  constructor(
    private readonly chain: Chain,
    /** Called when the mark moved (the sync state is worth saving). */
    private readonly onProgress: () => void,
    private readonly onRefused: (message: string) => void,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Every local event before this ordinal is on the server. */
  get mark(): number {
    let min = this.chain.count;
    for (const ordinal of this.pending.keys()) if (ordinal < min) min = ordinal;
    return min;
  }

  /** A local event to upload. */
  track(ordinal: number, bytes: Uint8Array): void {
    this.pending.set(ordinal, bytes);
    if (!this.conn) return;
    this.queue.push(ordinal);
    // A transaction's events arrive one by one in one synchronous run: send them as one commit.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        void this.pump();
      });
    }
  }

  /** Events a previous run may not have uploaded (read from the log when sent). */
  restore(ordinals: readonly number[]): void {
    for (const o of ordinals) if (!this.pending.has(o)) this.pending.set(o, undefined);
  }

  /** The stream caught up: send everything pending. */
  online(conn: Connection): void {
    this.conn = conn;
    this.inFlight.clear();
    this.queue = [...this.pending.keys()].sort((a, b) => a - b);
    void this.pump();
  }

  /**
   * The connection dropped. Pending events stay pending (sent again on reconnect). Waits end:
   * with `keepWaiting` false they fail, else they end as kept locally (recovery mode async).
   */
  offline(keepWaiting: boolean, reason: string): void {
    this.conn = undefined;
    this.inFlight.clear();
    this.queue = [];
    for (const [ordinal, list] of this.waiters) {
      this.waiters.delete(ordinal);
      for (const w of list) {
        if (keepWaiting) w.resolve();
        else w.reject(new MeshError(`the connection to the server dropped before it confirmed the commit (${reason}); the write is kept locally and uploaded when the connection is back`));
      }
    }
  }

  confirmed(commit: number): void {
    const ordinals = this.inFlight.get(commit);
    if (!ordinals) return;
    this.inFlight.delete(commit);
    for (const o of ordinals) {
      this.pending.delete(o);
      this.settle(o, undefined);
    }
    this.onProgress();
    void this.pump();
  }

  /** The server refused the commit: its events are not retried (they would be refused again). */
  refused(commit: number, message: string): void {
    const ordinals = this.inFlight.get(commit);
    if (!ordinals) return;
    this.inFlight.delete(commit);
    const err = new CommitError(`the server refused the commit: ${message}`);
    for (const o of ordinals) {
      this.pending.delete(o);
      this.settle(o, err);
    }
    this.onRefused(message);
    this.onProgress();
    void this.pump();
  }

  /** Resolves when none of these events is pending any more; rejects if the server refused one. */
  waitFor(ordinals: readonly number[], offlineOk: boolean): Promise<void> {
    const open = ordinals.filter((o) => this.pending.has(o));
    if (open.length === 0 || (!this.conn && offlineOk)) return Promise.resolve();
    if (!this.conn) {
      return Promise.reject(new MeshError('not connected to the server: the write is kept locally and uploaded when the connection is back'));
    }
    // One waiter for all of them, counting down: a commit of many events makes one promise.
    return new Promise<void>((resolve, reject) => {
      let left = open.length;
      const waiter: Waiter = { resolve: () => void (--left === 0 && resolve()), reject };
      for (const o of open) {
        let list = this.waiters.get(o);
        if (!list) this.waiters.set(o, (list = []));
        list.push(waiter);
      }
    });
  }

  private settle(ordinal: number, err: Error | undefined): void {
    const list = this.waiters.get(ordinal);
    if (!list) return;
    this.waiters.delete(ordinal);
    for (const w of list) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.conn && this.queue.length > 0 && this.inFlight.size < MAX_IN_FLIGHT) {
        const conn = this.conn;
        const ordinals: number[] = [];
        const evts: Uint8Array[] = [];
        let bytes = 0;
        while (this.queue.length > 0 && evts.length < MAX_EVENTS && bytes < MAX_BYTES) {
          const o = this.queue[0]!;
          if (!this.pending.has(o)) {
            this.queue.shift();
            continue;
          }
          const e = this.pending.get(o) ?? (await this.chain.eventBytes(o));
          if (conn !== this.conn) return;
          this.queue.shift();
          ordinals.push(o);
          evts.push(e);
          bytes += e.length;
        }
        if (evts.length === 0) break;
        const commit = this.nextCommit++;
        this.inFlight.set(commit, ordinals);
        conn.send({ t: 'events', commit, evts });
      }
    } finally {
      this.pumping = false;
    }
  }
}
