// A chain: one redo log, its materialized view and the ingest pipeline in front of them.
// JavaScript runs one thing at a time, so the synchronous ingest path is the single writer:
// an event is validated, appended to the log and indexed before anything else runs.
import { type PrivateSignKey, type PublicSignKey, SignerPool, defaultSignerPool } from '../crypto/index.js';
import type { ChainKey, EventId, PrimaryKey } from '../event/ids.js';
import type { KeyId, Metadata } from '../event/metadata.js';
import { needsSignature } from '../event/metadata.js';
import { type DecodedEvent, ViewDecoder } from '../event/encoding.js';
import { ClosedError, ConfigError, DecodeError, ReadOnlyError, ReplayError, TimeError, TrustError, ValidationError } from '../errors.js';
import type { LogPosition, RedoLog } from '../log/index.js';
import type { AteSession } from '../session/session.js';
import { type AuthorityLookup, type AuthorityState, type EffectiveWrite, rootWrite } from '../trust/authority.js';
import { KeyRing } from '../trust/keyring.js';
import { SignatureBook, coveredIdBlocks, isProof } from '../trust/signatures.js';
import { CompactionScheduler, type CompactionStats, type Compactor, compactChain } from './compaction/index.js';
import type { ChainConfig } from './config.js';
import { GroupSigner } from './group-signer.js';
import { LoadCache } from './load-cache.js';
import { RECORD_ID_BYTES, type RecordedEvent, eventOfRecord, readRecord, recordNew, recordOf } from './record.js';
import type { Indexer, IngestEvent, Linter, Origin, Transformer, ValidationContext, Validator, Verdict } from './plugins.js';
import { ChainView } from './view.js';

export interface ChainParts {
  readonly key: ChainKey;
  readonly config: ChainConfig;
  readonly log: RedoLog;
  readonly validators: readonly Validator[];
  readonly linters: readonly Linter[];
  readonly transformers: readonly Transformer[];
  readonly indexers: readonly Indexer[];
  readonly rootKeys: readonly PublicSignKey[];
  /** Transactions sign and encrypt by the tree authority (every profile but raw and barebone). */
  readonly treeAuthority: boolean;
  readonly session: AteSession;
  readonly signerPool?: SignerPool;
  /** Compactors besides the cut-off (see compaction/). */
  readonly compactors?: readonly Compactor[];
  /** Things the chain repaired on its own; default: process.emitWarning. */
  readonly onWarning?: (message: string) => void;
  /** Runs after the log is closed (the builder releases the log's lock). */
  readonly release?: () => Promise<void>;
  /** The log belongs to another open chain (a time-travel view of it): never close it. */
  readonly sharedLog?: boolean;
  /** Called after each replayed batch with the number of events replayed so far. */
  readonly onProgress?: (events: number) => void;
  /** Time travel: replay the log only up to this moment or event, and refuse writes. */
  readonly until?: TimeTravel;
}

/** A point in a chain's history: the last event at or before `time` (ms), or exactly `eventId`. */
export type TimeTravel = { readonly time: number } | { readonly eventId: EventId };

/** Called after an event is applied to the view. */
/** `ingest`: the options of the ingest call that brought the event (the upload it came in, also when its proof came later). */
export type EventListener = (event: IngestEvent, ordinal: number, origin: Origin, ingest?: IngestOptions) => void;

export interface IngestOptions {
  readonly origin: Origin;
  /** Centralized integrity, events from the server: accepted without signatures. */
  readonly trustedPeer?: boolean;
  /**
   * Centralized integrity, events from a client: once a key's signature has verified on this
   * connection, later events it must sign are accepted without one.
   */
  readonly conversation?: Conversation;
  /** Events already in the chain are skipped and counted (a peer's upload or a resumed stream). */
  readonly skipKnown?: boolean;
  /** The first refused event ends the call: the events after it are not looked at (a commit is refused whole). */
  readonly stopAtRefusal?: boolean;
}

/** What one connection has proven (centralized integrity). */
export class Conversation {
  readonly proven = new Set<KeyId>();
}

export interface IngestResult {
  readonly applied: number;
  /** Events the chain holds now waiting for their proof (from every call). */
  readonly parked: number;
  /** Events of this call that wait for their proof. */
  readonly parkedIds: readonly EventId[];
  /** Events of this call that the chain already held (with skipKnown). */
  readonly known: number;
  readonly errors: readonly ValidationError[];
}

/**
 * The link of a chain to its home server (src/core/mesh): local writes are uploaded, and a
 * commit that asks for full durability waits for the server's confirmation.
 */
export interface RemotePipe {
  /** Throws when writes are refused now (disconnected in a read-only recovery mode). */
  assertWritable(): void;
  /** Every commit, whatever its scope, waits for the server's confirmation (recovery mode sync). */
  readonly confirmsEveryCommit: boolean;
  /** A lock on an object held by this node's connection at the server; false if another holds it. */
  lock(key: PrimaryKey): Promise<boolean>;
  unlock(key: PrimaryKey): void;
  /** Resolves when the server confirmed these events; rejects with the server's reason. */
  confirm(ids: readonly EventId[]): Promise<void>;
}

/** Staged authority of a transaction's earlier rows; null marks a delete. */
export type Overlay = Map<PrimaryKey, AuthorityState | null>;

export class Chain {
  readonly key: ChainKey;
  readonly config: ChainConfig;
  readonly view = new ChainView();
  readonly book = new SignatureBook();
  readonly validators: readonly Validator[];
  readonly linters: readonly Linter[];
  readonly transformers: readonly Transformer[];
  readonly indexers: readonly Indexer[];
  readonly defaultSession: AteSession;
  readonly treeAuthority: boolean;
  /** Pessimistic locks held by transactions of this process. */
  readonly locks = new Map<PrimaryKey, object>();
  readonly compactors: readonly Compactor[];
  /** Runs compactions on demand and on the triggers of config.compactMode. */
  readonly compaction: CompactionScheduler;
  private readonly log: RedoLog;
  private readonly listeners = new Set<EventListener>();
  private readonly keyrings = new WeakMap<AteSession, KeyRing>();
  private readonly parked = new Map<EventId, { event: RecordedEvent; opts: IngestOptions }>();
  /** Events written here whose signature is not yet in the log. */
  private readonly unsigned = new Map<number, readonly KeyId[]>();
  private readonly cache: LoadCache;
  private readonly signer: GroupSigner;
  private rootWriteAuthority: EffectiveWrite;
  private rootsDisabled: boolean;
  private rewrites = 0;
  private readonly warn: (message: string) => void;
  private readonly progress: ((events: number) => void) | undefined;
  private readonly release: (() => Promise<void>) | undefined;
  /** Set for time travel: the view is a past state and accepts no writes. */
  readonly until: TimeTravel | undefined;
  private lazyFlush: NodeJS.Timeout | undefined;
  private closed = false;
  private pipe: RemotePipe | undefined;
  /** While replaying: the lean path's events that wait for a signature (see replayLean). */
  private waiting: WaitMarks | undefined;

  private constructor(private readonly parts: ChainParts) {
    this.key = parts.key;
    this.config = parts.config;
    this.log = parts.log;
    this.validators = parts.validators;
    this.linters = parts.linters;
    this.transformers = parts.transformers;
    this.indexers = parts.indexers;
    this.defaultSession = parts.session;
    this.treeAuthority = parts.treeAuthority;
    this.rootsDisabled = parts.config.disableNewRoots;
    this.warn = parts.onWarning ?? ((m) => process.emitWarning(m, 'AteWarning'));
    this.progress = parts.onProgress;
    this.release = parts.release;
    this.until = parts.until;
    this.cache = new LoadCache(parts.config.loadCacheBytes);
    const rootIds = parts.rootKeys.map((k) => this.book.addPublicKey(k));
    this.rootWriteAuthority = rootWrite(rootIds);
    this.signer = new GroupSigner(
      parts.signerPool ?? defaultSignerPool(),
      (meta) => this.appendProof(meta),
      (id) => this.book.published.has(id),
      parts.config.signIntervalMs,
      (err) => this.warn(`signing events of ${this.key} failed (${err instanceof Error ? err.message : String(err)}); they are signed again when the chain reopens`),
    );
    this.compactors = parts.compactors ?? [];
    this.compaction = new CompactionScheduler(this, () => compactChain(this, this.compactors));
  }

  /** Opens a chain over its log: replays every event into the view. */
  static async open(parts: ChainParts): Promise<Chain> {
    const chain = new Chain(parts);
    try {
      await chain.replay();
    } catch (err) {
      chain.closed = true;
      if (!parts.sharedLog) await chain.log.close().catch(() => undefined);
      await chain.release?.();
      throw err;
    }
    if (!chain.until) await chain.compaction.start();
    return chain;
  }

  get count(): number {
    return this.view.count;
  }

  /** Bytes of events in the log's current generation. */
  get logSize(): number {
    return this.log.size;
  }

  get rootWrite(): EffectiveWrite {
    return this.rootWriteAuthority;
  }

  /** Parentless objects are refused (config.disableNewRoots, or disableNewRoots() after creating the root). */
  get newRootsDisabled(): boolean {
    return this.rootsDisabled;
  }

  /** From now on, refuse new parentless objects: create the root first, then call this. */
  disableNewRoots(): void {
    this.rootsDisabled = true;
  }

  /** Events written here that still wait for their signature. */
  get unsignedCount(): number {
    return this.unsigned.size;
  }

  get parkedCount(): number {
    return this.parked.size;
  }

  /** Looks authority up in the view. */
  readonly lookup: AuthorityLookup = (key) => this.view.objects.get(key);

  /** Looks authority up in a transaction's overlay first, then in the view. */
  lookupWith(overlay: Overlay): AuthorityLookup {
    // A transaction's events mostly share a parent, looked up several times for each event:
    // the view's last answer is kept while the view is unchanged.
    let lastKey: PrimaryKey | undefined;
    let last: AuthorityState | undefined;
    let lastVersion = -1;
    return (key) => {
      const staged = overlay.get(key);
      if (staged === null) return undefined;
      if (staged !== undefined) return staged;
      if (key === lastKey && lastVersion === this.view.version) return last;
      const state = this.view.objects.get(key);
      if (state !== undefined) [lastKey, last, lastVersion] = [key, state, this.view.version];
      return state;
    };
  }

  keyring(session: AteSession): KeyRing {
    let ring = this.keyrings.get(session);
    if (!ring) this.keyrings.set(session, (ring = new KeyRing(session)));
    return ring;
  }

  /** Links the chain to its home server (one pipe at a time). */
  attachPipe(pipe: RemotePipe): () => void {
    this.pipe = pipe;
    return () => {
      if (this.pipe === pipe) this.pipe = undefined;
    };
  }

  get remote(): RemotePipe | undefined {
    return this.pipe;
  }

  /** Whether an event with this id is in the chain (applied, not parked). */
  holds(id: Uint8Array): boolean {
    return this.view.ids.indexOf(id) !== -1;
  }

  /** Waits for the home server to confirm these events (at once for a chain without one). */
  async confirm(ids: readonly EventId[]): Promise<void> {
    if (this.pipe && ids.length > 0) await this.pipe.confirm(ids);
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The stored bytes of an event, decoded; served from a bounded cache. */
  async readEvent(ordinal: number): Promise<DecodedEvent> {
    const hit = this.cache.get(ordinal);
    if (hit) return eventOfRecord(hit);
    const generation = this.generation;
    const record = await this.log.read(this.view.position(ordinal));
    // A compaction during the read renumbers the events: this ordinal may name another one now.
    if (generation === this.generation) this.cache.set(ordinal, record);
    return eventOfRecord(record);
  }

  /**
   * Counts log rewrites (compactions). Ordinals and positions taken before a rewrite are stale
   * after it: a read that failed across one is worth retrying with the new view.
   */
  get generation(): number {
    return this.rewrites;
  }

  /** The stored bytes of one event (a copy: a read may come from the log's write buffer, which is reused). */
  async eventBytes(ordinal: number): Promise<Uint8Array> {
    // Buffer.from copies with one memcpy; Uint8Array.from goes element by element (2.8 us per KiB).
    return Buffer.from((await this.log.read(this.view.position(ordinal))).subarray(RECORD_ID_BYTES));
  }

  /**
   * The bytes of events from ordinal `from` on (before `to`), read sequentially in the log's own
   * batches: far cheaper than one read per event for streaming history to a peer. They are views
   * into the replay's read buffers, which are reused: a batch's bytes are valid only until the
   * next batch is asked for (copy or send them first). Stops early where the log's order and the
   * view's ordinals part (they agree unless events were parked during an unsealed replay); the
   * caller reads the rest one by one.
   */
  async *historyBatches(from: number, to: number): AsyncIterable<Uint8Array[]> {
    let ordinal = 0;
    // CRCs, not the seal: the peer recomputes every id from the bytes it receives.
    for await (const batch of this.log.replay({ checks: 'crc', transient: true })) {
      const out: Uint8Array[] = [];
      for (const { bytes, pos } of batch.events) {
        if (ordinal >= to) break;
        if (ordinal >= from) {
          if (!this.view.isAt(ordinal, pos)) {
            if (out.length > 0) yield out;
            return;
          }
          out.push(bytes.subarray(RECORD_ID_BYTES));
        }
        ordinal++;
      }
      if (out.length > 0) yield out;
      if (ordinal >= to) return;
    }
  }

  /** The bytes of every event in log order (for streaming to peers). */
  async *history(): AsyncIterable<Uint8Array> {
    for (let i = 0; i < this.view.count; i++) yield (await this.log.read(this.view.position(i))).subarray(RECORD_ID_BYTES);
  }

  /**
   * Applies a transaction built here. Every event is validated against the view plus the
   * transaction's earlier events; if any is denied nothing is applied. `signing` names the
   * private key that will sign each event that needs one.
   */
  commitLocal(events: readonly RecordedEvent[], signing: ReadonlyMap<IngestEvent, PrivateSignKey>): void {
    this.assertWritable();
    this.pipe?.assertWritable();
    const staged: Overlay = new Map();
    // Events of a transaction share their signWith list: one Set for all of them.
    let signWith: readonly KeyId[] | undefined;
    let signers: ReadonlySet<KeyId> = EMPTY;
    const ctx = this.context('local', false, this.lookupWith(staged), (e) => {
      if (!signing.has(e)) return EMPTY;
      if (e.meta.signWith !== signWith) signers = new Set((signWith = e.meta.signWith) ?? []);
      return signers;
    });
    const twice = duplicateIn(events);
    if (twice) throw new ReplayError(`event ${twice.id.slice(0, 16)} appears twice in one transaction`);
    for (const e of events) {
      const verdict = this.validate(e, ctx);
      if (verdict) throw verdict;
      stage(staged, e.meta);
    }
    for (const e of events) {
      const key = signing.get(e);
      if (key) {
        this.signer.add(key, e.idBytes);
      }
      const ordinal = this.apply(e, this.log.append(e.record), 'local');
      if (key) this.unsigned.set(ordinal, e.meta.signWith ?? []);
    }
    this.scheduleLazyFlush();
  }

  /**
   * Takes in events from a peer or an unsealed log. Events that need a signature which has
   * not arrived yet wait (parked) until it does; the others are validated one by one.
   */
  ingest(bytesList: readonly Uint8Array[], opts: IngestOptions): IngestResult {
    this.assertWritable();
    let applied = 0;
    let known = 0;
    const parkedIds: EventId[] = [];
    const errors: ValidationError[] = [];
    const contexts = new Map<IngestOptions, ValidationContext>();
    for (const bytes of bytesList) {
      if (opts.stopAtRefusal && errors.length > 0) break;
      let event: RecordedEvent;
      try {
        event = recordOf(bytes);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        errors.push(new ValidationError(err.message));
        continue;
      }
      // The hex id (for the parked map) only when something is parked: it costs a string per event.
      const held = this.view.ids.indexOf(event.idBytes) !== -1;
      if (opts.skipKnown && (held || (this.parked.size > 0 && this.parked.has(event.id)))) {
        known++;
        continue;
      }
      try {
        const n = this.ingestOne(event, opts, undefined, errors, contexts, held);
        applied += n;
        if (n === 0) parkedIds.push(event.id);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        errors.push(err);
      }
    }
    if (applied > 0) this.scheduleLazyFlush();
    return { applied, parked: this.parked.size, parkedIds: parkedIds.filter((id) => this.parked.has(id)), known, errors };
  }

  /** Writes everything applied so far to the OS; with `durable`, also to stable storage. */
  async flush(durable = true): Promise<void> {
    this.assertOpen();
    await this.log.flush({ durable });
  }

  /** Waits until every event written here is signed, and the signatures are durable. */
  async sync(): Promise<void> {
    await this.signer.idle();
    await this.flush(true);
  }

  async rotate(): Promise<void> {
    await this.sync();
    await this.log.rotate();
  }

  /** Rebuilds the view from a new event list (compaction swaps the log, then calls this). */
  async rewrite(kept: readonly Uint8Array[], cutOff: number): Promise<void> {
    const records = kept.map(recordOf);
    // Counted at both ends: a read in flight across any part of the swap sees a change.
    this.rewrites++;
    // From the call on, the log appends to the new generation, after `kept`: events applied
    // while it swaps are in it, and the rebuilt view must keep them too.
    const during: { event: IngestEvent; ordinal: number }[] = [];
    const stop = this.onEvent((event, ordinal) => during.push({ event, ordinal }));
    let positions: LogPosition[];
    try {
      positions = await this.log.rewrite(
        records.map((r) => r.record),
        { chainKey: this.key, cutOff },
      );
    } finally {
      stop();
    }
    const moved = during.map(({ event, ordinal }) => ({ event, pos: this.view.position(ordinal) }));
    this.rewrites++;
    // Ordinals change with the new view: remember the unsigned events by id.
    const unsigned = [...this.unsigned].map(([ordinal, keys]) => ({ id: Buffer.from(this.view.ids.idAt(ordinal)), keys }));
    this.unsigned.clear();
    this.view.clear();
    this.cache.clear();
    for (const ix of this.indexers) ix.reset();
    records.forEach((event, i) => {
      if (isProof(event.meta)) this.book.absorb(event.meta, false, false);
      this.index(event, positions[i]!);
    });
    for (const { event, pos } of moved) this.index(event, pos);
    for (const { id, keys } of unsigned) {
      const ordinal = this.view.ids.indexOf(id);
      if (ordinal !== -1) this.unsigned.set(ordinal, keys);
    }
  }

  get cutOff(): number {
    return this.log.header.cutOff;
  }

  /** Drops history no compactor needs (see compaction/); runs after any compaction already under way. */
  compact(): Promise<CompactionStats> {
    this.assertWritable();
    return this.compaction.run();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.compaction.stop();
    clearTimeout(this.lazyFlush);
    await this.signer.idle();
    this.closed = true;
    if (this.parts.sharedLog) return;
    try {
      await this.log.close();
    } finally {
      await this.release?.();
    }
  }

  /** This chain as it was at a moment or right after an event: a read-only view over the same log. */
  at(until: TimeTravel): Promise<Chain> {
    this.assertOpen();
    return Chain.open({ ...this.parts, until, sharedLog: true, release: async () => undefined });
  }

  /** Closes the chain and deletes its log. */
  async destroy(): Promise<void> {
    if (this.parts.sharedLog) throw new ReadOnlyError(`this is a view of chain ${this.key} in the past; destroy the chain itself`);
    await this.compaction.stop();
    clearTimeout(this.lazyFlush);
    await this.signer.idle();
    this.closed = true;
    try {
      await this.log.destroy();
    } finally {
      await this.release?.();
    }
  }

  /** Signs, at open, the events a crash left unsigned, when the default session holds the keys. */
  private resignLeftovers(): void {
    const ring = this.keyring(this.defaultSession);
    for (const [ordinal, keys] of this.unsigned) {
      const key = keys.map((k) => ring.signer(k)).find((k) => k !== undefined);
      if (key) this.signer.add(key, Buffer.from(this.view.ids.idAt(ordinal)));
    }
  }

  private async replay(): Promise<void> {
    if (this.until) return this.replayUntil(this.until);
    const refused: ValidationError[] = [];
    // Events still parked at the end are a crash's leftovers only if nothing was applied after them.
    const parkedAt = new Map<EventId, number>();
    let seq = 0;
    let lastApplied = -1;
    // Indexers are fed whole events; without them sealed events take the lean path.
    const lean = this.indexers.length === 0 ? new ViewDecoder() : undefined;
    this.waiting = new WaitMarks();
    for await (const batch of this.log.replay()) {
      for (const { bytes, pos } of batch.events) {
        seq++;
        if (batch.sealed && lean && this.replayLean(lean, bytes, pos)) {
          lastApplied = seq;
          continue;
        }
        let event: RecordedEvent;
        try {
          event = readRecord(bytes, batch.sealed);
        } catch (err) {
          if (err instanceof DecodeError) throw new DecodeError(`event at segment ${pos.segment} offset ${pos.offset}: ${err.message}`);
          throw err;
        }
        if (batch.sealed) {
          this.replayTrusted(event, pos);
          lastApplied = seq;
        } else if (this.ingestOne(event, REPLAY, pos, refused) > 0) lastApplied = seq;
        else parkedAt.set(event.id, seq);
      }
      this.progress?.(seq);
    }
    await this.collectUnsigned();
    if (refused.length > 0) throw refused[0];
    const leftovers = [...this.parked.keys()];
    if (leftovers.length > 0) {
      const first = Math.min(...leftovers.map((id) => parkedAt.get(id) ?? 0));
      if (first <= lastApplied) {
        throw new TrustError(
          `${leftovers.length} event(s) in the log of ${this.key} carry no valid signature (first ${leftovers[0]!.slice(0, 16)}): the log was modified by someone without the write keys; restore it from a replica or backup`,
        );
      }
      await this.dropTail(leftovers);
    }
    this.resignLeftovers();
  }

  /**
   * The log ends with events that no seal and no signature vouch for: a write the process did
   * not finish before it died (it was never acknowledged as durable). They are compacted away
   * before anything new is written, since the next seal would otherwise vouch for them.
   */
  private async dropTail(ids: readonly EventId[]): Promise<void> {
    for (const id of ids) this.parked.delete(id);
    const kept: Uint8Array[] = [];
    for await (const bytes of this.history()) kept.push(Uint8Array.from(bytes));
    await this.rewrite(kept, this.cutOff);
    this.warn(`dropped ${ids.length} unsigned event(s) at the end of the log of ${this.key}: a write that did not finish before the process stopped`);
  }

  /**
   * Replays a prefix of the log: every event up to the first one stamped after `until.time`,
   * or up to and including `until.eventId`. The chain stays read-only.
   */
  private async replayUntil(until: TimeTravel): Promise<void> {
    const refused: ValidationError[] = [];
    let found = false;
    outer: for await (const batch of this.log.replay()) {
      for (const { bytes, pos } of batch.events) {
        const event = readRecord(bytes, batch.sealed);
        if ('time' in until && event.meta.timestamp !== undefined && event.meta.timestamp > until.time) break outer;
        if (batch.sealed) this.replayTrusted(event, pos);
        else this.ingestOne(event, REPLAY, pos, refused);
        if ('eventId' in until && event.id === until.eventId) {
          found = true;
          break outer;
        }
      }
      this.progress?.(this.view.count);
    }
    if (refused.length > 0) throw refused[0];
    if ('eventId' in until && !found) throw new ConfigError(`event ${until.eventId} is not in the history of ${this.key}; list the history to pick one`);
  }

  /**
   * A sealed event that only the view needs (see ViewDecoder), straight from the log's bytes:
   * no Metadata, no RecordedEvent, no hex id. False: the event needs replayTrusted.
   */
  private replayLean(decoder: ViewDecoder, bytes: Uint8Array, pos: LogPosition): boolean {
    if (bytes.length < RECORD_ID_BYTES) return false;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      if (!decoder.decode(buf, RECORD_ID_BYTES, buf.length)) return false;
    } catch (err) {
      if (err instanceof DecodeError) throw new DecodeError(`event at segment ${pos.segment} offset ${pos.offset}: ${err.message}`);
      throw err;
    }
    const ordinal = this.view.add(buf.subarray(0, RECORD_ID_BYTES), decoder, pos);
    if (ordinal !== -1 && decoder.signs) this.waiting!.set(ordinal);
    return true;
  }

  /**
   * After a replay: the events that still wait for their signature (a crash came between
   * their durable commit and their proof) go into `unsigned`, with the keys that must sign
   * them, read back from the log (there are none after a clean shutdown).
   */
  private async collectUnsigned(): Promise<void> {
    const waiting = this.waiting!;
    this.waiting = undefined;
    for (const ordinal of waiting.all(this.view.count)) {
      const { meta } = await this.readEvent(ordinal);
      if (meta.signWith !== undefined) this.unsigned.set(ordinal, meta.signWith);
    }
  }

  /** A sealed log was written by this node: its events were validated when they came in. */
  private replayTrusted(event: IngestEvent, pos: LogPosition): void {
    const ordinal = this.index(event, pos);
    if (isProof(event.meta)) this.settleProof(event.meta);
    else if (event.meta.signWith !== undefined && needsSignature(event.meta)) this.unsigned.set(ordinal, event.meta.signWith);
  }

  /**
   * Returns the number of events applied: the event itself and any it released from parking.
   * Released events that are refused land in `refused`; the event itself throws.
   */
  private ingestOne(
    event: RecordedEvent,
    opts: IngestOptions,
    pos: LogPosition | undefined,
    refused: ValidationError[],
    contexts: Map<IngestOptions, ValidationContext> = new Map(),
    held = this.view.ids.indexOf(event.idBytes) !== -1,
  ): number {
    const { origin, conversation } = opts;
    const centralized = this.config.integrity === 'centralized';
    const trustedPeer = centralized && (opts.trustedPeer ?? false);
    if (held && this.validators.length > 0) {
      throw new ReplayError(`event ${event.id.slice(0, 16)} was already applied (replay)`);
    }
    if (isProof(event.meta)) {
      const covered = this.book.absorb(event.meta, true, true);
      if (centralized && conversation) for (const sig of event.meta.signatures ?? []) conversation.proven.add(sig.signer);
      this.apply(event, pos ?? this.log.append(event.record), origin, opts);
      let released = 1;
      // Released in the order they arrived (a child after its parent), whatever the order of the signatures.
      const coveredSet = new Set(covered);
      const ready = [...this.parked].filter(([id]) => coveredSet.has(id));
      for (const [id, waiting] of ready) {
        this.parked.delete(id);
        try {
          released += this.ingestOne(waiting.event, waiting.opts, undefined, refused, contexts);
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          refused.push(err);
        }
      }
      return released;
    }
    // One context per call and options (the events of one upload share them).
    let ctx = contexts.get(opts);
    if (ctx === undefined) {
      ctx = this.context(origin, trustedPeer, this.lookup, (e) => {
        const verified = this.book.signersOf(e.id);
        if (!centralized || !conversation || verified.size > 0) return verified;
        return new Set((e.meta.signWith ?? []).filter((k) => conversation.proven.has(k)));
      });
      contexts.set(opts, ctx);
    }
    const verdict = this.validate(event, ctx);
    if (verdict) {
      const unsignedYet = verdict instanceof TrustError && this.book.signersOf(event.id).size === 0 && needsSignature(event.meta);
      if (unsignedYet && !trustedPeer) {
        // Replayed bytes are views into the log's read buffers; a parked event outlives them.
        this.parked.set(event.id, { event: origin === 'replay' ? recordOf(Uint8Array.from(event.bytes)) : event, opts });
        return 0;
      }
      this.book.settle(event);
      throw verdict;
    }
    this.book.settle(event);
    this.apply(event, pos ?? this.log.append(event.record), origin, opts);
    return 1;
  }

  private context(
    origin: Origin,
    trustedPeer: boolean,
    authority: AuthorityLookup,
    signersOf: ValidationContext['signersOf'],
  ): ValidationContext {
    return { origin, view: this.view, authority, rootWrite: this.rootWriteAuthority, signersOf, trustedPeer, now: Date.now() };
  }

  /** Runs the validators: Deny wins, at least one Allow is needed. Returns the refusal or undefined. */
  private validate(event: IngestEvent, ctx: ValidationContext): ValidationError | undefined {
    if (this.validators.length === 0) return undefined;
    let allowed = false;
    const denials: Verdict[] = [];
    for (const v of this.validators) {
      const verdict = v.validate(event, ctx);
      if (verdict.kind === 'deny') denials.push(verdict);
      else if (verdict.kind === 'allow') allowed = true;
    }
    if (denials.length > 0) {
      const reasons = denials.map((d) => (d.kind === 'deny' ? d.reason : ''));
      const cls = denials[0]!.kind === 'deny' ? denials[0]!.class : undefined;
      const message = reasons.join('; ');
      if (cls === 'trust') return new TrustError(message, reasons);
      if (cls === 'replay') return new ReplayError(message, reasons);
      if (cls === 'time') return new TimeError(message, reasons);
      return new ValidationError(message, reasons);
    }
    if (!allowed) return new ValidationError(`no validator allowed event ${event.id.slice(0, 16)}`);
    return undefined;
  }

  private apply(event: IngestEvent, pos: LogPosition, origin: Origin, ingest?: IngestOptions): number {
    const ordinal = this.index(event, pos);
    if (ordinal !== -1) for (const l of this.listeners) l(event, ordinal, origin, ingest);
    return ordinal;
  }

  private index(event: IngestEvent, pos: LogPosition): number {
    const ordinal = this.view.add(event.idBytes, event.meta, pos);
    if (ordinal !== -1) for (const ix of this.indexers) ix.feed(event, ordinal);
    return ordinal;
  }

  /** The signer finished a group: its proof event goes into the log like any other. */
  private appendProof(meta: Metadata): void {
    const event = recordNew(meta);
    this.settleProof(meta);
    this.apply(event, this.log.append(event.record), 'local');
    this.scheduleLazyFlush();
  }

  /** A proof written or sealed by this node: its events no longer wait for a signature. */
  private settleProof(meta: Metadata): void {
    this.book.absorb(meta, false, false);
    // By offset into each signature's id list: a proof covers thousands of ids on a replay.
    // They are mostly consecutive events, so the ordinal after the last one is tried first:
    // neighbours in the id arena instead of a cache miss in its hash table per id.
    const ids = this.view.ids;
    for (const block of coveredIdBlocks(meta)) {
      let next = -1;
      for (let at = 0; at < block.length; at += RECORD_ID_BYTES) {
        const ordinal = ids.isAt(next, block, at) ? next : ids.indexOf(block, at);
        if (ordinal === -1) continue;
        next = ordinal + 1;
        this.unsigned.delete(ordinal);
        this.waiting?.clear(ordinal);
      }
    }
  }

  private scheduleLazyFlush(): void {
    if (this.lazyFlush !== undefined || this.closed) return;
    this.lazyFlush = setTimeout(() => {
      this.lazyFlush = undefined;
      if (!this.closed) this.log.flush({ durable: false }).catch(() => undefined);
    }, this.config.lazyFlushMs);
    this.lazyFlush.unref();
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.until) throw new ReadOnlyError(`chain ${this.key} is open as it was in the past (time travel): it accepts no writes`);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`chain ${this.key} is closed`);
  }
}

const EMPTY: ReadonlySet<KeyId> = new Set();
const REPLAY: IngestOptions = { origin: 'replay' };

/** Ordinals of replayed events that wait for a signature: a byte each, cleared by their proof. */
class WaitMarks {
  private marks = new Uint8Array(1 << 16);

  set(ordinal: number): void {
    if (ordinal >= this.marks.length) {
      const bigger = new Uint8Array(Math.max(this.marks.length * 2, ordinal + 1));
      bigger.set(this.marks);
      this.marks = bigger;
    }
    this.marks[ordinal] = 1;
  }

  clear(ordinal: number): void {
    if (ordinal < this.marks.length) this.marks[ordinal] = 0;
  }

  *all(count: number): Generator<number> {
    for (let i = 0; i < Math.min(count, this.marks.length); i++) if (this.marks[i] === 1) yield i;
  }
}

/** An event that appears twice in a list; compares 4-byte prefixes first (no hex ids). */
function duplicateIn(events: readonly RecordedEvent[]): RecordedEvent | undefined {
  if (events.length < 2) return undefined;
  const byPrefix = new Map<number, RecordedEvent>();
  for (const e of events) {
    const prefix = e.idBytes.readUInt32LE(0);
    const other = byPrefix.get(prefix);
    if (other === undefined) byPrefix.set(prefix, e);
    else if (other.idBytes.equals(e.idBytes)) return e;
    else return duplicateById(events); // two ids share a prefix: compare them all in full
  }
  return undefined;
}

function duplicateById(events: readonly RecordedEvent[]): RecordedEvent | undefined {
  const seen = new Set<EventId>();
  for (const e of events) {
    if (seen.has(e.id)) return e;
    seen.add(e.id);
  }
  return undefined;
}

function stage(overlay: Overlay, meta: Metadata): void {
  if (meta.key !== undefined) overlay.set(meta.key, { auth: meta.auth, parent: meta.parent });
  else if (meta.tombstone !== undefined) overlay.set(meta.tombstone, null);
}
