// A Dao is one object of a chain as a transaction sees it: its key, value, place in the
// tree and authority. Changing it does nothing until it is committed with its Dio.
import type { PublicSignKey, SymmetricKey } from '../crypto/index.js';
import type { CollectionId, PrimaryKey } from '../event/ids.js';
import type { Authorization, KeyId, ParentRef, PreviousKey, ReadOption, WriteOption } from '../event/metadata.js';
import { type ReaderKey, newDataKey, wrapFor } from '../trust/keyring.js';
import { publicKeyId } from '../trust/signatures.js';

/** Who may read an object: everyone (plaintext), its parent's readers, or these keys. */
export type Readers = 'everyone' | 'inherit' | readonly ReaderKey[];
/** Who may write an object: everyone, nobody, its parent's writers, or these keys. */
export type Writers = 'everyone' | 'nobody' | 'inherit' | readonly (PublicSignKey | KeyId)[];

export interface DaoHost {
  stage(dao: Dao<unknown>): void;
  remove(key: PrimaryKey): void;
}

export class Dao<T> {
  /** The object's stored data, reusable while value and data key are unchanged (a rewrap). */
  storedData: Uint8Array | undefined;
  /** The data key of the read domain this object starts, when it sets new readers. */
  dataKey: SymmetricKey | undefined;
  private valueChanged: boolean;

  constructor(
    private readonly host: DaoHost,
    readonly key: PrimaryKey,
    private current: T,
    public auth: Authorization,
    public parent: ParentRef | undefined,
    readonly created: number | undefined,
    readonly updated: number | undefined,
    public type: string | undefined,
    public reply: PrimaryKey | undefined = undefined,
  ) {
    this.valueChanged = created === undefined;
  }

  get value(): T {
    return this.current;
  }

  set value(v: T) {
    this.current = v;
    this.valueChanged = true;
    this.storedData = undefined;
  }

  /** True when the data must be serialized and encrypted again. */
  get dirtyData(): boolean {
    return this.valueChanged || this.storedData === undefined;
  }

  /** Replaces the value in place (for mutable values changed through `value`). */
  touch(): this {
    this.valueChanged = true;
    this.storedData = undefined;
    return this;
  }

  /** Stages this object in its transaction. */
  commit(): this {
    this.host.stage(this as Dao<unknown>);
    return this;
  }

  /** Stages the object's deletion. */
  delete(): void {
    this.host.remove(this.key);
  }

  /** Moves the object under a parent; its data is encrypted again if that changes its read domain. */
  attach(parent: PrimaryKey, collection: CollectionId): this {
    this.parent = { key: parent, collection };
    this.storedData = undefined;
    return this;
  }

  detach(): this {
    this.parent = undefined;
    this.storedData = undefined;
    return this;
  }

  /**
   * Sets the readers. A new reader set on an object that already has its own data key keeps
   * the key and only wraps it again (no re-encryption); pass `currentKey` for that. A new key
   * with `previous` (Dio.rekey) encrypts the object's data again under it.
   */
  setReaders(readers: Readers, currentKey?: SymmetricKey, previous?: readonly PreviousKey[]): this {
    const kept = this.auth.read.kind === 'specific' ? this.auth.read.previous : undefined;
    if (previous !== undefined) this.storedData = undefined;
    this.auth = { read: readOption(readers, this, currentKey, previous ?? kept), write: this.auth.write };
    return this;
  }

  setWriters(writers: Writers): this {
    this.auth = { read: this.auth.read, write: writeOption(writers) };
    return this;
  }
}

function readOption(readers: Readers, dao: Dao<unknown>, currentKey: SymmetricKey | undefined, previous: readonly PreviousKey[] | undefined): ReadOption {
  if (readers === 'everyone') {
    dao.storedData = undefined;
    return { kind: 'everyone' };
  }
  if (readers === 'inherit') {
    dao.storedData = undefined;
    return { kind: 'inherit' };
  }
  const key = currentKey ?? newDataKey();
  if (!currentKey) dao.storedData = undefined;
  dao.dataKey = key;
  const wrapped = wrapFor(readers, key);
  return currentKey && previous ? { kind: 'specific', readers: wrapped, previous } : { kind: 'specific', readers: wrapped };
}

export function writeOption(writers: Writers): WriteOption {
  if (writers === 'everyone' || writers === 'nobody' || writers === 'inherit') return { kind: writers };
  return { kind: 'specific', keys: writers.map((w) => (typeof w === 'string' ? w : publicKeyId(w))) };
}
