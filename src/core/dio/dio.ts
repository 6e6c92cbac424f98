// A Dio is a transaction on one chain for one session: objects are made, loaded, changed and
// deleted in memory, then committed together as one group of events.
import { Packr } from 'msgpackr';
import { type PrivateSignKey, type SymmetricKey, defaultSealPool, open } from '../crypto/index.js';
import { type CollectionId, type PrimaryKey, primaryKeyBytes, randomPrimaryKey } from '../event/ids.js';
import { INHERIT, type Metadata, type ParentRef, isInherit } from '../event/metadata.js';
import { cut } from '../event/slab.js';
import { ClosedError, CommitError, DecryptError, LockError, MissingReadKeyError, MissingWriteKeyError, NewRootsDisabledError, NotFoundError } from '../errors.js';
import type { Chain, Overlay } from '../chain/chain.js';
import type { ObjectState } from '../chain/view.js';
import type { DecodedEvent } from '../event/encoding.js';
import { type RecordedEvent, recordNew } from '../chain/record.js';
import type { AteSession } from '../session/session.js';
import { type AuthorityLookup, type AuthorityState, readAuthorityOf, writeAuthorityFor } from '../trust/authority.js';
import { type KeyRing, dataKeyHint, newDataKey, sealPrevious } from '../trust/keyring.js';
import { Dao, type Readers, type Writers } from './dao.js';

/** none: return once queued; local: applied to this node's view; full: durable (and confirmed by the server, for remote chains). */
export type Scope = 'none' | 'local' | 'full';

export interface StoreOptions {
  readonly key?: PrimaryKey;
  readonly parent?: ParentRef;
  readonly readers?: Readers;
  readonly writers?: Writers;
  readonly type?: string;
  readonly reply?: PrimaryKey;
}

const values = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

type MutableMetadata = { -readonly [K in keyof Metadata]: Metadata[K] };

/** A row's data on its way into an event: reused as stored, or plaintext waiting to be sealed. */
interface PreparedData {
  readonly key: PrimaryKey;
  readonly dataKey: SymmetricKey | undefined;
  readonly stored?: Uint8Array;
  readonly plain?: Uint8Array;
}

const EMPTY = new Uint8Array(0);
/**
 * How much later than the version it replaces a new version is stamped when the clock has not
 * moved on: a binary fraction of a millisecond (exact in a float64 timestamp), so bursts of
 * thousands of commits to one object do not run the stamps ahead of the clock.
 */
const STAMP_STEP_MS = 1 / 1024;

/** msgpack of a value; raw bytes (file chunks, payloads) take a direct path: header and one copy. */
export function serialize(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) return values.pack(value);
  const n = value.length;
  const head = n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const out = cut(head + n); // on its way to the cipher and the log: see slab.ts
  if (head === 2) (out[0] = 0xc4), (out[1] = n);
  else if (head === 3) (out[0] = 0xc5), out.writeUInt16BE(n, 1);
  else (out[0] = 0xc6), out.writeUInt32BE(n, 1);
  out.set(value, head);
  return out;
}

export function deserialize<T>(bytes: Uint8Array): T {
  return values.unpack(bytes) as T;
}

export class Dio {
  private readonly rows = new Map<PrimaryKey, Dao<unknown>>();
  private readonly deleted = new Set<PrimaryKey>();
  private readonly lockedKeys = new Set<PrimaryKey>();
  private readonly ring: KeyRing;
  private done = false;

  constructor(
    readonly chain: Chain,
    readonly session: AteSession,
    readonly scope: Scope = 'local',
  ) {
    this.ring = chain.keyring(session);
  }

  /** A new object, not yet staged: commit() it (or use store) to include it. */
  make<T>(value: T, opts: StoreOptions = {}): Dao<T> {
    this.assertOpen();
    const dao = new Dao<T>(this.host, opts.key ?? randomPrimaryKey(), value, INHERIT, opts.parent, undefined, undefined, opts.type, opts.reply);
    if (opts.writers !== undefined) dao.setWriters(opts.writers);
    if (opts.readers !== undefined) dao.setReaders(opts.readers);
    return dao;
  }

  /** A new object, staged. */
  store<T>(value: T, opts: StoreOptions = {}): Dao<T> {
    return this.make(value, opts).commit();
  }

  exists(key: PrimaryKey): boolean {
    if (this.deleted.has(key)) return false;
    return this.rows.has(key) || this.chain.view.objects.has(key);
  }

  async load<T>(key: PrimaryKey): Promise<Dao<T>> {
    this.assertOpen();
    if (this.deleted.has(key)) throw new NotFoundError(`object ${key} was deleted in this transaction`);
    const staged = this.rows.get(key);
    if (staged) return staged as Dao<T>;
    const { state, event } = await this.read(key);
    const value = this.open<T>(key, { auth: state.auth, parent: state.parent }, event.meta.confidentiality, event.data);
    const dao = new Dao<T>(this.host, key, value, state.auth ?? INHERIT, state.parent, this.chain.view.timeOf(state.first), this.chain.view.timeOf(state.latest), state.type, event.meta.reply);
    dao.storedData = event.data;
    return dao;
  }

  /** An object's state and event; a read that a compaction cut short is tried again on the new log. */
  private async read(key: PrimaryKey): Promise<{ state: ObjectState; event: DecodedEvent }> {
    for (let attempt = 0; ; attempt++) {
      const state = this.chain.view.objects.get(key);
      if (!state) throw new NotFoundError(`object ${key} does not exist in chain ${this.chain.key}`);
      const generation = this.chain.generation;
      // The view changes its states in place: keep the one that matches the event read.
      const snapshot = { ...state };
      try {
        return { state: snapshot, event: await this.chain.readEvent(snapshot.latest) };
      } catch (err) {
        if (attempt >= 3 || generation === this.chain.generation) throw err;
      }
    }
  }

  async loadMany<T>(keys: Iterable<PrimaryKey>): Promise<Dao<T>[]> {
    return Promise.all([...keys].map((k) => this.load<T>(k)));
  }

  /** The children of a parent's collection, staged ones included. Unreadable ones are skipped with `skipUnreadable`. */
  async children<T>(parent: PrimaryKey, collection: CollectionId, opts: { skipUnreadable?: boolean } = {}): Promise<Dao<T>[]> {
    const keys = new Set(this.chain.view.childrenOf(parent, collection));
    for (const [k, row] of this.rows) {
      if (row.parent?.key === parent && row.parent.collection === collection) keys.add(k);
      else keys.delete(k);
    }
    for (const k of this.deleted) keys.delete(k);
    const out: Dao<T>[] = [];
    for (const k of keys) {
      try {
        out.push(await this.load<T>(k));
      } catch (err) {
        if (!(opts.skipUnreadable && err instanceof MissingReadKeyError)) throw err;
      }
    }
    return out;
  }

  /**
   * Gives an object new readers. Its data key stays the same and is only wrapped again for
   * the new set, so neither its data nor its descendants' data is re-encrypted.
   */
  rewrap<T>(dao: Dao<T>, readers: Exclude<Readers, 'everyone' | 'inherit'>): Dao<T> {
    const own = dao.auth.read;
    if (own.kind !== 'specific') throw new CommitError(`object ${dao.key} has no readers of its own to rewrap; give it readers with setReaders`);
    dao.setReaders(readers, dao.dataKey ?? this.ring.dataKey(own.readers, `object ${dao.key}`));
    return dao.commit();
  }

  /**
   * Gives an object new readers under a new data key, for when a reader must lose access to what
   * is written from now on (a removed member may have kept the old key). The earlier keys are
   * sealed under the new one: the new readers read everything written before, and the old key
   * opens nothing written after (docs/FORMAT.md "Replacing the data key").
   */
  rekey<T>(dao: Dao<T>, readers: Exclude<Readers, 'everyone' | 'inherit'>): Dao<T> {
    const own = dao.auth.read;
    if (own.kind !== 'specific') throw new CommitError(`object ${dao.key} has no readers of its own to rekey; give it readers with setReaders`);
    const current = dao.dataKey ?? this.ring.dataKey(own.readers, `object ${dao.key}`);
    const fresh = newDataKey();
    dao.setReaders(readers, fresh, sealPrevious(fresh, [current, ...this.ring.earlierKeys(own, current)]));
    return dao.commit();
  }

  delete(key: PrimaryKey): void {
    this.assertOpen();
    this.rows.delete(key);
    if (this.chain.view.objects.has(key)) this.deleted.add(key);
  }

  /** Takes a pessimistic lock held until this transaction commits or is cancelled. */
  tryLock(key: PrimaryKey): boolean {
    const holder = this.chain.locks.get(key);
    if (holder !== undefined && holder !== this) return false;
    this.chain.locks.set(key, this);
    this.lockedKeys.add(key);
    return true;
  }

  unlock(key: PrimaryKey): void {
    if (this.chain.locks.get(key) === this) {
      this.chain.locks.delete(key);
      this.chain.remote?.unlock(key);
    }
    this.lockedKeys.delete(key);
  }

  /**
   * Locks an object for this transaction here and, for a chain with a home server, at the server
   * (so other nodes see it too); false if another transaction holds it.
   */
  async lock(key: PrimaryKey): Promise<boolean> {
    if (!this.tryLock(key)) return false;
    const remote = this.chain.remote;
    if (!remote || (await remote.lock(key))) return true;
    if (this.chain.locks.get(key) === this) this.chain.locks.delete(key);
    this.lockedKeys.delete(key);
    return false;
  }

  /** Locks then deletes: exactly one transaction can take an object (queues, services). */
  tryLockThenDelete(key: PrimaryKey): boolean {
    if (!this.chain.view.objects.has(key) || !this.tryLock(key)) return false;
    this.delete(key);
    return true;
  }

  /**
   * Builds one event per staged object and deletion, and applies them together: if any is
   * refused, none is applied and the transaction stays open for another try or cancel().
   */
  async commit(): Promise<void> {
    this.assertOpen();
    for (const key of this.deleted) {
      const holder = this.chain.locks.get(key);
      if (holder !== undefined && holder !== this) throw new LockError(`object ${key} is locked by another transaction`);
    }
    const overlay: Overlay = new Map();
    const lookup = this.chain.lookupWith(overlay);
    const events: RecordedEvent[] = [];
    const signing = new Map<RecordedEvent, PrivateSignKey>();
    // Stamped after the asynchronous sealing, so nothing commits between stamp and apply: a new
    // version is always later than the one it replaces (docs/FORMAT.md "Concurrent writers").
    let now = 0;
    const stamp = (meta: MutableMetadata, key: PrimaryKey): void => {
      meta.timestamp = Math.max(now, this.chain.view.lastChange(key) + STAMP_STEP_MS);
    };
    const add = (meta: Metadata, data: Uint8Array | undefined): void => {
      const event = recordNew(meta, data);
      const signer = meta.signWith?.[0] !== undefined ? this.ring.signer(meta.signWith[0]) : undefined;
      if (signer) signing.set(event, signer);
      events.push(event);
    };
    // Metadata first; the data of every row is then encrypted per data key in one batch.
    const rows: { meta: MutableMetadata; data: PreparedData }[] = [];
    for (const dao of this.rows.values()) {
      if (this.chain.newRootsDisabled && dao.parent === undefined && !this.chain.view.objects.has(dao.key)) {
        throw new NewRootsDisabledError();
      }
      const meta: MutableMetadata = { key: dao.key };
      if (!isInherit(dao.auth)) meta.auth = dao.auth;
      if (dao.parent) meta.parent = dao.parent;
      if (dao.type !== undefined) meta.type = dao.type;
      if (dao.reply !== undefined) meta.reply = dao.reply;
      this.lint(meta, lookup);
      overlay.set(dao.key, { auth: meta.auth, parent: meta.parent });
      const data = this.prepare(dao, lookup);
      if (data.dataKey) meta.confidentiality = dataKeyHint(data.dataKey);
      rows.push({ meta, data });
    }
    const sealed = await this.sealAll(rows.map((r) => r.data));
    now = Date.now();
    rows.forEach((r, i) => {
      stamp(r.meta, r.meta.key!);
      add(r.meta, sealed[i]!);
    });
    for (const key of this.deleted) {
      const meta: MutableMetadata = { tombstone: key };
      stamp(meta, key);
      const parent = this.chain.view.objects.get(key)?.parent;
      if (parent) meta.parent = parent;
      this.lint(meta, lookup);
      add(meta, undefined);
      overlay.set(key, null);
    }
    if (events.length > 0) this.chain.commitLocal(events, signing);
    this.finish();
    if (this.scope === 'full' || this.chain.remote?.confirmsEveryCommit) {
      await this.chain.flush(true);
      await this.chain.confirm(events.map((e) => e.id));
    }
  }

  /** Drops everything staged and releases the locks. */
  cancel(): void {
    if (!this.done) this.finish();
  }

  private finish(): void {
    for (const key of this.lockedKeys) this.unlock(key);
    this.rows.clear();
    this.deleted.clear();
    this.done = true;
  }

  private readonly host = {
    stage: (dao: Dao<unknown>) => {
      this.assertOpen();
      this.deleted.delete(dao.key);
      this.rows.set(dao.key, dao);
    },
    remove: (key: PrimaryKey) => this.delete(key),
  };

  /** Adds what the chain's linters and the tree authority require: the signer, the author. */
  private lint(meta: MutableMetadata, lookup: AuthorityLookup): void {
    for (const l of this.chain.linters) Object.assign(meta, l.lint(meta, { session: this.session, authority: lookup, rootWrite: this.chain.rootWrite }));
    if (!this.chain.treeAuthority) return;
    const write = writeAuthorityFor(meta, lookup, this.chain.rootWrite);
    if (write.kind === 'everyone') return;
    if (write.kind === 'nobody') throw new CommitError(`object ${meta.key ?? meta.tombstone} is read-only: nobody may write it`);
    const signer = write.keys.find((k) => this.ring.signer(k) !== undefined);
    if (signer === undefined) {
      throw new MissingWriteKeyError(`this session holds no write key for object ${meta.key ?? meta.tombstone}; log in as a user or group that may write it`);
    }
    meta.signWith = this.ring.signWith(signer);
  }

  /** Serializes and transforms an object's value, and finds the data key of its read domain. */
  private prepare(dao: Dao<unknown>, lookup: AuthorityLookup): PreparedData {
    const read = readAuthorityOf(dao.key, { auth: dao.auth, parent: dao.parent }, lookup);
    let dataKey: SymmetricKey | undefined;
    if (read.kind === 'domain') {
      dataKey = read.owner === dao.key && dao.dataKey ? dao.dataKey : this.ring.dataKey(read.readers, `object ${read.owner}`);
    }
    if (!dao.dirtyData && dao.storedData) return { key: dao.key, dataKey, stored: dao.storedData };
    let plain = serialize(dao.value);
    for (const t of this.chain.transformers) plain = t.encode(plain, dao.key);
    return { key: dao.key, dataKey, plain };
  }

  /** Encrypts every prepared value, grouped by data key (large groups in the seal pool). */
  private async sealAll(prepared: readonly PreparedData[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = prepared.map((p) => p.stored ?? (p.dataKey ? EMPTY : p.plain!));
    const groups = new Map<SymmetricKey, number[]>();
    prepared.forEach((p, i) => {
      if (p.stored || !p.dataKey) return;
      let g = groups.get(p.dataKey);
      if (!g) groups.set(p.dataKey, (g = []));
      g.push(i);
    });
    await Promise.all(
      [...groups].map(async ([key, indexes]) => {
        const sealed = await defaultSealPool().sealMany(
          key,
          indexes.map((i) => ({ plain: prepared[i]!.plain!, aad: primaryKeyBytes(prepared[i]!.key) })),
        );
        indexes.forEach((i, j) => (out[i] = sealed[j]!));
      }),
    );
    return out;
  }

  private open<T>(key: PrimaryKey, state: AuthorityState, hint: Uint8Array | undefined, data: Uint8Array | undefined): T {
    return openValue<T>(this.chain, this.ring, key, state, this.chain.lookup, hint, data);
  }

  private assertOpen(): void {
    if (this.done) throw new ClosedError('this transaction was already committed or cancelled; start a new one with chain.dio()');
  }
}

/**
 * Decrypts, untransforms and deserializes an object's stored data. `lookup` gives the authority
 * of its ancestors: the view's for the present, a replayed one for the past (atefs log).
 */
export function openValue<T>(
  chain: Chain,
  ring: KeyRing,
  key: PrimaryKey,
  state: AuthorityState,
  lookup: AuthorityLookup,
  hint: Uint8Array | undefined,
  data: Uint8Array | undefined,
): T {
  if (data === undefined) return undefined as T;
  const read = readAuthorityOf(key, state, lookup);
  let plain = data;
  if (read.kind === 'domain') {
    const dataKey = ring.dataKeyFor(read, hint, `object ${key}`);
    try {
      plain = open(dataKey, data, primaryKeyBytes(key));
    } catch (err) {
      if (err instanceof DecryptError) throw new DecryptError(`object ${key}: its data does not decrypt: it was tampered with`);
      throw err;
    }
  }
  for (let i = chain.transformers.length - 1; i >= 0; i--) plain = chain.transformers[i]!.decode(plain, key);
  return deserialize<T>(plain);
}
