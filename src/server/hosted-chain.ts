// One chain as atedb hosts it: the chain itself (validating, never signing: the server holds no
// keys), its epoch, its subscribers, its commits and its locks. See docs/FORMAT.md "Wire protocol".
import type { Chain, IngestOptions } from '../core/chain/chain.js';
import { Conversation } from '../core/chain/chain.js';
import type { EventId, PrimaryKey } from '../core/event/ids.js';
import { AteError } from '../core/errors.js';
import { type ClientMessage, type Confirmed, type Events, type ServerMessage, type WireConnection, encode } from '../core/mesh/wire/index.js';
import { renewEpoch } from './epoch.js';
import type { ServerConnection } from './wire-server.js';

/** A batch holds at most this many events... */
export const BATCH_EVENTS = 2000;
/** ...or about this many bytes (a single larger event goes alone). */
export const BATCH_BYTES = 2 * 1024 * 1024;
/** A subscriber with more unsent bytes than this is disconnected (it resumes on reconnect). */
export const MAX_UNSENT_BYTES = 64 * 1024 * 1024;
/** A commit whose events wait for their proof gets commitError after this long. */
export const PARKED_TIMEOUT_MS = 10_000;
/** History reads issued at once (they go to the thread pool; one at a time leaves it idle). */
const READ_AHEAD = 64;
/** Histories longer than this stream from a sequential read of the log. */
const SEQUENTIAL_FROM = 2_000;

/** What one connection does on this chain. */
export interface Member {
  readonly conn: ServerConnection;
  /** Centralized integrity: the keys this connection has proven. */
  readonly conversation: Conversation;
}

/** An applied event not yet durable, and the member that uploaded it (none for events no member uploaded, such as a replay's). */
interface PendingEvent {
  readonly ordinal: number;
  readonly bytes: Uint8Array;
  readonly from: Member | undefined;
}

class Subscriber {
  /** False while its history streams: live batches wait in `queue`. */
  live = false;
  readonly queue: Uint8Array[] = [];
  queuedBytes = 0;

  constructor(readonly member: Member) {}

  get wire(): WireConnection<ClientMessage, ServerMessage> {
    return this.member.conn.wire;
  }
}

export interface HostedChainOptions {
  readonly chain: Chain;
  readonly epoch: string;
  readonly epochPath: string;
  readonly rootKeys: readonly Uint8Array[];
  readonly log: (line: string) => void;
}

export class HostedChain {
  readonly chain: Chain;
  private epochValue: string;
  /** Events at positions below this are durable and were sent to the subscribers (but their uploaders). */
  private published: number;
  /** Applied events not yet durable: published after the flush that covers them. */
  private pending: PendingEvent[] = [];
  /**
   * The member behind each commit's ingest options: the chain names them with every event it
   * applies (also one released later by a proof from someone else), and the uploader is not sent
   * its own events.
   */
  private readonly uploaders = new WeakMap<IngestOptions, Member>();
  private readonly subscribers = new Map<Member, Subscriber>();
  private readonly locks = new Map<PrimaryKey, Member>();
  /** Commits whose events wait for their proof: event id -> the commits waiting for it. */
  private readonly waiting = new Map<EventId, Set<() => void>>();
  private readonly stops: (() => void)[] = [];

  constructor(private readonly opts: HostedChainOptions) {
    this.chain = opts.chain;
    this.epochValue = opts.epoch;
    this.published = this.chain.count;
    this.stops.push(
      this.chain.onEvent((event, ordinal, _origin, ingest) => {
        this.pending.push({ ordinal, bytes: event.bytes, from: ingest && this.uploaders.get(ingest) });
        const waiters = this.waiting.get(event.id);
        if (waiters) {
          this.waiting.delete(event.id);
          for (const w of waiters) w();
        }
      }),
      this.chain.compaction.onCompacted(() => void this.renumbered()),
    );
  }

  get epoch(): string {
    return this.epochValue;
  }

  get key(): string {
    return this.chain.key;
  }

  /** encodeKey of each root key the chain was opened with. */
  get rootKeys(): readonly Uint8Array[] {
    return this.opts.rootKeys;
  }

  /**
   * Streams the chain to a member from position `from` (0 unless `epoch` is this log's): start,
   * history batches, end, then live events as they become durable.
   */
  async subscribe(member: Member, from: number, epoch: string | undefined): Promise<void> {
    const sub = new Subscriber(member);
    this.subscribers.set(member, sub);
    const generation = this.chain.generation;
    const end = this.published;
    // A position past the end cannot be of this log, whatever its epoch says: start over.
    const start = epoch === this.epochValue && from <= end ? from : 0;
    member.conn.send({
      t: 'start',
      chain: this.chain.key,
      epoch: this.epochValue,
      size: end - start,
      integrity: this.chain.config.integrity,
      rootKeys: [...this.opts.rootKeys],
    });
    let batch: Uint8Array[] = [];
    let bytes = 0;
    let seq = start;
    const flush = async (): Promise<void> => {
      member.conn.send({ t: 'events', seq, evts: batch } satisfies Events);
      seq += batch.length;
      batch = [];
      bytes = 0;
      await sub.wire.drained();
    };
    /** Adds events to batches, sending each full one: an await per batch, not per event. */
    const take = async (events: readonly Uint8Array[]): Promise<void> => {
      for (const e of events) {
        if (batch.length > 0 && (batch.length >= BATCH_EVENTS || bytes + e.length > BATCH_BYTES)) await flush();
        batch.push(e);
        bytes += e.length;
      }
    };
    let at = start;
    // A long history is read sequentially; what is left (if the log's order parts from the
    // ordinals) one event at a time.
    if (end - start > SEQUENTIAL_FROM) {
      for await (const events of this.chain.historyBatches(start, end)) {
        if (this.subscribers.get(member) !== sub || sub.wire.isClosed) return;
        if (this.chain.generation !== generation) return;
        await take(events);
        // The read memory behind these events is reused for the next batch: they leave now.
        if (batch.length > 0) await flush();
        at += events.length;
      }
    }
    for (; at < end; at += READ_AHEAD) {
      if (this.subscribers.get(member) !== sub || sub.wire.isClosed) return;
      if (this.chain.generation !== generation) return; // renumbered: renumbered() disconnected it
      const reads: Promise<Uint8Array>[] = [];
      for (let i = at; i < Math.min(end, at + READ_AHEAD); i++) reads.push(this.chain.eventBytes(i));
      await take(await Promise.all(reads));
    }
    if (batch.length > 0) await flush();
    if (this.subscribers.get(member) !== sub) return;
    member.conn.send({ t: 'end', seq: end });
    sub.live = true;
    for (const payload of sub.queue.splice(0)) sub.wire.sendPayload(payload);
    sub.queuedBytes = 0;
    this.checkBacklog(sub);
  }

  unsubscribe(member: Member): void {
    this.subscribers.delete(member);
    for (const [key, owner] of this.locks) if (owner === member) this.locks.delete(key);
  }

  /**
   * Validates and appends a commit's events, in order, stopping at the first refused one; then
   * makes them durable and publishes them. Resolves with the refusal's reason, or undefined once
   * every event is applied and durable (events waiting for their proof included).
   */
  async commit(member: Member, evts: readonly Uint8Array[]): Promise<string | undefined> {
    let refusal: string | undefined;
    const parked: EventId[] = [];
    const opts: IngestOptions = { origin: 'remote', conversation: member.conversation, skipKnown: true, stopAtRefusal: true };
    this.uploaders.set(opts, member);
    try {
      const result = this.chain.ingest(evts, opts);
      if (result.errors.length > 0) refusal = result.errors[0]!.message;
      parked.push(...result.parkedIds);
    } catch (err) {
      if (!(err instanceof AteError)) throw err;
      refusal = err.message;
    }
    await this.makeDurable();
    if (refusal !== undefined) return refusal;
    const unapplied = parked.filter((id) => !this.chain.holds(Buffer.from(id, 'hex')));
    if (unapplied.length === 0) return undefined;
    if (!(await this.applied(unapplied))) {
      return `${unapplied.length} event(s) of the commit never got a valid signature (no proof within ${PARKED_TIMEOUT_MS / 1000} s)`;
    }
    await this.makeDurable();
    return undefined;
  }

  /**
   * Tells a member its commit is confirmed, with the position its stream has no gap below (its own
   * events were not sent to it), in order with its stream: after `end` while its history streams.
   */
  confirm(member: Member, commit: number): void {
    const payload = encode({ t: 'confirmed', commit, seq: this.published } satisfies Confirmed);
    const sub = this.subscribers.get(member);
    if (sub) this.deliver(sub, payload);
    else member.conn.wire.sendPayload(payload);
  }

  /** Takes the lock on an object for a member; false if another member holds it. */
  lock(member: Member, key: PrimaryKey): boolean {
    const owner = this.locks.get(key);
    if (owner && owner !== member) return false;
    this.locks.set(key, member);
    return true;
  }

  unlock(member: Member, key: PrimaryKey): void {
    if (this.locks.get(key) === member) this.locks.delete(key);
  }

  async close(): Promise<void> {
    for (const stop of this.stops) stop();
    for (const sub of this.subscribers.values()) sub.wire.close('the server is shutting down');
    this.subscribers.clear();
    await this.chain.close();
  }

  /** Flushes to stable storage, then sends every event the flush covered to the subscribers. */
  private async makeDurable(): Promise<void> {
    const upto = this.chain.count;
    await this.chain.flush(true);
    this.publish(upto);
  }

  /**
   * Sends the durable events to the subscribers in batches of one uploader's events each, encoded
   * once, skipping each batch's uploader (its confirmed covers them).
   */
  private publish(upto: number): void {
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.ordinal < upto) n++;
    if (n === 0) return;
    const ready = this.pending.splice(0, n);
    for (let i = 0; i < ready.length; ) {
      const { ordinal: seq, from } = ready[i]!;
      const evts: Uint8Array[] = [];
      let bytes = 0;
      for (; i < ready.length && ready[i]!.from === from && evts.length < BATCH_EVENTS; i++) {
        const e = ready[i]!.bytes;
        if (evts.length > 0 && bytes + e.length > BATCH_BYTES) break;
        evts.push(e);
        bytes += e.length;
      }
      let payload: Uint8Array | undefined;
      for (const sub of this.subscribers.values()) {
        if (sub.member === from) continue;
        payload ??= encode({ t: 'events', seq, evts } satisfies Events);
        this.deliver(sub, payload);
      }
    }
    this.published = Math.max(this.published, ready[ready.length - 1]!.ordinal + 1);
  }

  /** A live subscriber gets the payload now; one whose history still streams, after its end. */
  private deliver(sub: Subscriber, payload: Uint8Array): void {
    if (sub.live) sub.wire.sendPayload(payload);
    else {
      sub.queue.push(payload);
      sub.queuedBytes += payload.length;
    }
    this.checkBacklog(sub);
  }

  /** A subscriber that does not keep up is cut off before it grows the server's memory without bound. */
  private checkBacklog(sub: Subscriber): void {
    if (sub.wire.buffered + sub.queuedBytes <= MAX_UNSENT_BYTES) return;
    this.subscribers.delete(sub.member);
    this.opts.log(`disconnected slow subscriber ${sub.wire.remote} of ${this.chain.key} (over ${MAX_UNSENT_BYTES >> 20} MiB unsent)`);
    sub.wire.close(`you fell more than ${MAX_UNSENT_BYTES >> 20} MiB behind the live updates of ${this.chain.key}; reconnect to resume`);
  }

  /** Resolves true once every id is applied, false after the timeout. */
  private applied(ids: readonly EventId[]): Promise<boolean> {
    return new Promise((resolve) => {
      let left = ids.length;
      const done = (): void => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      const timer = setTimeout(() => {
        for (const id of ids) {
          const set = this.waiting.get(id);
          set?.delete(done);
          if (set?.size === 0) this.waiting.delete(id);
        }
        resolve(false);
      }, PARKED_TIMEOUT_MS);
      for (const id of ids) {
        let set = this.waiting.get(id);
        if (!set) this.waiting.set(id, (set = new Set()));
        set.add(done);
      }
    });
  }

  /** A compaction renumbered the log: new epoch, and every subscriber starts over. */
  private async renumbered(): Promise<void> {
    this.pending = [];
    this.published = this.chain.count;
    this.epochValue = await renewEpoch(this.opts.epochPath);
    for (const sub of this.subscribers.values()) sub.wire.close(`${this.chain.key} was compacted and its positions changed; reconnect to resume`);
    this.subscribers.clear();
  }
}
