// The metadata of an event: what the chain of trust and the view read without touching the data.
import type { PublicSignKey } from '../crypto/index.js';
import type { CollectionId, EventId, PrimaryKey } from './ids.js';

/** Public identifier of a key (SHA-256 based key id), 64 hex digits. */
export type KeyId = string & { readonly __brand: 'KeyId' };

/** One reader of an object: the object's data key wrapped (sealed) for the reader's key. */
export interface WrappedKey {
  readonly keyId: KeyId;
  readonly wrapped: Uint8Array;
}

/** An earlier data key of an object, sealed under its current one (docs/FORMAT.md "Replacing the data key"). */
export interface PreviousKey {
  /** The confidentiality hint of the data it opens. */
  readonly hint: Uint8Array;
  readonly sealed: Uint8Array;
}

export type ReadOption =
  | { readonly kind: 'inherit' }
  | { readonly kind: 'everyone' }
  | { readonly kind: 'specific'; readonly readers: readonly WrappedKey[]; readonly previous?: readonly PreviousKey[] };

export type WriteOption =
  | { readonly kind: 'inherit' }
  | { readonly kind: 'everyone' }
  | { readonly kind: 'nobody' }
  | { readonly kind: 'specific'; readonly keys: readonly KeyId[] };

export interface Authorization {
  readonly read: ReadOption;
  readonly write: WriteOption;
}

export interface ParentRef {
  readonly key: PrimaryKey;
  readonly collection: CollectionId;
}

/** One write key's signature over a group of events (see docs/FORMAT.md "Signatures"). */
export interface SignatureItem {
  readonly signer: KeyId;
  readonly events: readonly EventId[];
  /** The same ids as bytes, back to back (set by the decoder, which builds `events` only on demand). */
  readonly eventBytes?: Uint8Array;
  readonly signature: Uint8Array;
}

export interface Metadata {
  /** The object this event stores (Data). */
  readonly key?: PrimaryKey;
  /** The object this event deletes. */
  readonly tombstone?: PrimaryKey;
  readonly auth?: Authorization;
  readonly parent?: ParentRef;
  /** Write keys introduced to the chain by this event. */
  readonly publicKeys?: readonly PublicSignKey[];
  readonly signatures?: readonly SignatureItem[];
  /** Key ids that must sign this event. */
  readonly signWith?: readonly KeyId[];
  /** A short id of the data key, to tell "wrong key" from "tampered" on read. */
  readonly confidentiality?: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly timestamp?: number;
  readonly type?: string;
  readonly reply?: PrimaryKey;
  readonly author?: string;
  /** Items with tags this build does not know, kept so that the bytes stay meaningful. */
  readonly extra?: readonly (readonly [number, unknown])[];
}

export const INHERIT: Authorization = { read: { kind: 'inherit' }, write: { kind: 'inherit' } };

export function isInherit(auth: Authorization | undefined): boolean {
  return auth === undefined || (auth.read.kind === 'inherit' && auth.write.kind === 'inherit');
}

/** Events that only carry proofs (public keys, signatures) need no signature themselves. */
export function needsSignature(meta: Metadata): boolean {
  return (
    meta.key !== undefined ||
    meta.tombstone !== undefined ||
    meta.auth !== undefined ||
    meta.parent !== undefined ||
    meta.type !== undefined ||
    meta.reply !== undefined ||
    meta.author !== undefined ||
    meta.extra !== undefined
  );
}
