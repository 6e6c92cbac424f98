// A session's keys indexed by key id, plus the data keys it has already unwrapped.
// Unwrapping a KEM-sealed key costs ~0.5 ms, so each domain's key is unwrapped once.
import {
  type PrivateReadKey,
  type PrivateSignKey,
  type PublicReadKey,
  type SymmetricKey,
  equalBytes,
  generateSymmetricKey,
  open,
  openSealed,
  publicReadKey,
  publicSignKey,
  readKeyHash,
  seal,
  sealTo,
  signKeyHash,
  symmetricKey,
  symmetricKeyHash,
  toHex,
} from '../crypto/index.js';
import type { KeyId, PreviousKey, WrappedKey } from '../event/metadata.js';
import { DecryptError, MissingReadKeyError } from '../errors.js';
import type { ReadDomain } from './authority.js';
import { type AteSession, privateReadKeys, readKeys, writeKeys } from '../session/session.js';

/** A reader an object's data key can be wrapped for. */
export type ReaderKey = { readonly kind: 'symmetric'; readonly key: SymmetricKey } | { readonly kind: 'public'; readonly key: PublicReadKey };

const WRAP_AAD = Buffer.from('ate/wrapped-data-key');
const PREVIOUS_AAD = Buffer.from('ate/previous-data-key');

const ids = new WeakMap<object, KeyId>();
function cached(k: object, make: () => KeyId): KeyId {
  let id = ids.get(k);
  if (id === undefined) ids.set(k, (id = make()));
  return id;
}

export const symmetricKeyId = (k: SymmetricKey): KeyId => cached(k, () => toHex(symmetricKeyHash(k)) as KeyId);
export const publicReadKeyId = (k: PublicReadKey): KeyId => cached(k, () => toHex(readKeyHash(k)) as KeyId);
export const privateReadKeyId = (k: PrivateReadKey): KeyId => cached(k, () => publicReadKeyId(publicReadKey(k)));
export const signKeyId = (k: PrivateSignKey): KeyId => cached(k, () => toHex(signKeyHash(publicSignKey(k))) as KeyId);

export function readerKeyId(r: ReaderKey): KeyId {
  return r.kind === 'symmetric' ? symmetricKeyId(r.key) : publicReadKeyId(r.key);
}

/** Wraps a data key for every reader. */
export function wrapFor(readers: readonly ReaderKey[], dataKey: SymmetricKey): WrappedKey[] {
  return readers.map((r) => ({
    keyId: readerKeyId(r),
    wrapped: r.kind === 'symmetric' ? seal(r.key, dataKey, WRAP_AAD) : sealTo(r.key, dataKey, WRAP_AAD),
  }));
}

export function newDataKey(): SymmetricKey {
  return generateSymmetricKey();
}

const hints = new WeakMap<SymmetricKey, Uint8Array>();

/** A short id of a data key, stored with encrypted data to tell a wrong key from tampering. */
export function dataKeyHint(k: SymmetricKey): Uint8Array {
  let hint = hints.get(k);
  if (!hint) hints.set(k, (hint = symmetricKeyHash(k).subarray(0, 8)));
  return hint;
}

/** Earlier data keys of a read domain, each sealed under its new key (docs/FORMAT.md "Replacing the data key"). */
export function sealPrevious(current: SymmetricKey, earlier: readonly SymmetricKey[]): PreviousKey[] {
  return earlier.map((k) => ({ hint: dataKeyHint(k), sealed: seal(current, k, PREVIOUS_AAD) }));
}

export class KeyRing {
  private readonly symmetric = new Map<KeyId, SymmetricKey>();
  private readonly kem = new Map<KeyId, PrivateReadKey>();
  private readonly signers = new Map<KeyId, PrivateSignKey>();
  private readonly unwrapped = new WeakMap<readonly WrappedKey[], SymmetricKey>();
  private readonly opened = new WeakMap<PreviousKey, SymmetricKey>();

  constructor(readonly session: AteSession) {
    for (const k of readKeys(session)) this.symmetric.set(symmetricKeyId(k), k);
    for (const k of privateReadKeys(session)) this.kem.set(privateReadKeyId(k), k);
    for (const k of writeKeys(session)) this.signers.set(signKeyId(k), k);
  }

  private readonly signWiths = new Map<KeyId, readonly KeyId[]>();

  signer(id: KeyId): PrivateSignKey | undefined {
    return this.signers.get(id);
  }

  /** The sign-with list naming one key (shared: events are immutable once built). */
  signWith(id: KeyId): readonly KeyId[] {
    let list = this.signWiths.get(id);
    if (!list) this.signWiths.set(id, (list = [id]));
    return list;
  }

  get signerIds(): IterableIterator<KeyId> {
    return this.signers.keys();
  }

  canRead(readers: readonly WrappedKey[]): boolean {
    return readers.some((r) => this.symmetric.has(r.keyId) || this.kem.has(r.keyId));
  }

  /** The data key of a read domain; MissingReadKeyError when the session holds no reader key. */
  dataKey(readers: readonly WrappedKey[], what: string): SymmetricKey {
    const hit = this.unwrapped.get(readers);
    if (hit) return hit;
    for (const r of readers) {
      const sym = this.symmetric.get(r.keyId);
      const kem = sym ? undefined : this.kem.get(r.keyId);
      if (!sym && !kem) continue;
      try {
        const raw = sym ? open(sym, r.wrapped, WRAP_AAD) : openSealed(kem!, r.wrapped, WRAP_AAD);
        const key = symmetricKey(raw);
        this.unwrapped.set(readers, key);
        return key;
      } catch (err) {
        if (!(err instanceof DecryptError)) throw err;
      }
    }
    throw new MissingReadKeyError(`${what} is encrypted for keys this session does not hold; log in with a user or group that may read it`);
  }

  /**
   * The key that data with confidentiality `hint` was sealed under: the domain's current data key,
   * or one of its earlier ones (after a rekey), opened with the current one.
   */
  dataKeyFor(domain: ReadDomain, hint: Uint8Array | undefined, what: string): SymmetricKey {
    const current = this.dataKey(domain.readers, what);
    if (hint === undefined || equalBytes(hint, dataKeyHint(current))) return current;
    const earlier = domain.previous?.find((p) => equalBytes(p.hint, hint));
    if (earlier === undefined) {
      throw new MissingReadKeyError(`${what} was written under another data key than its readers now hold; it cannot be read with this session`);
    }
    return this.openPrevious(current, earlier);
  }

  /** Every earlier data key of a domain whose current key is `current` (for the next rekey). */
  earlierKeys(domain: ReadDomain, current: SymmetricKey): SymmetricKey[] {
    return (domain.previous ?? []).map((p) => this.openPrevious(current, p));
  }

  private openPrevious(current: SymmetricKey, p: PreviousKey): SymmetricKey {
    let key = this.opened.get(p);
    if (key === undefined) this.opened.set(p, (key = symmetricKey(open(current, p.sealed, PREVIOUS_AAD))));
    return key;
  }
}
