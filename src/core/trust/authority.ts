// Tree authority: who may write and who may read an object. Permissions inherit through
// parents up to the chain's root; a write is judged by the state that exists before it.
import type { PrimaryKey } from '../event/ids.js';
import type { Authorization, KeyId, Metadata, ParentRef, PreviousKey, ReadOption, WriteOption, WrappedKey } from '../event/metadata.js';
import { TrustError } from '../errors.js';

export interface AuthorityState {
  readonly auth: Authorization | undefined;
  readonly parent: ParentRef | undefined;
}

/** Where authority is looked up: objects staged earlier in the same transaction, then the view. */
export type AuthorityLookup = (key: PrimaryKey) => AuthorityState | undefined;

export type EffectiveWrite = { readonly kind: 'everyone' } | { readonly kind: 'nobody' } | { readonly kind: 'specific'; readonly keys: readonly KeyId[] };

/** The read domain of an object: the object whose readers hold its data key, or none (plaintext). */
export type EffectiveRead = { readonly kind: 'everyone' } | ({ readonly kind: 'domain'; readonly owner: PrimaryKey } & ReadDomain);

/** The readers of a read domain's data key, and its earlier data keys sealed under it. */
export interface ReadDomain {
  readonly readers: readonly WrappedKey[];
  readonly previous?: readonly PreviousKey[] | undefined;
}

const MAX_DEPTH = 4096;

export function rootWrite(rootKeys: readonly KeyId[]): EffectiveWrite {
  return rootKeys.length > 0 ? { kind: 'specific', keys: rootKeys } : { kind: 'everyone' };
}

function resolveWrite(start: AuthorityState | undefined, lookup: AuthorityLookup, root: EffectiveWrite): EffectiveWrite {
  let state = start;
  for (let depth = 0; state !== undefined; depth++) {
    if (depth > MAX_DEPTH) throw new TrustError('authority chain too deep or cyclic');
    const w: WriteOption | undefined = state.auth?.write;
    if (w !== undefined && w.kind !== 'inherit') return w;
    if (state.parent === undefined) return root;
    const parent = lookup(state.parent.key);
    if (parent === undefined) throw new TrustError(`parent ${state.parent.key} does not exist`);
    state = parent;
  }
  return root;
}

/**
 * Who may write this event: the existing object's authority if it exists (an event cannot
 * grant itself the right it needs), else its parent's, else the root's.
 */
export function writeAuthorityFor(meta: Metadata, lookup: AuthorityLookup, root: EffectiveWrite): EffectiveWrite {
  const key = meta.key ?? meta.tombstone;
  if (key === undefined) return root;
  const existing = lookup(key);
  if (existing !== undefined) return resolveWrite(existing, lookup, root);
  return resolveWrite({ auth: undefined, parent: meta.parent }, lookup, root);
}

/** Who may read an object as stored by this state (its own auth counts). */
export function readAuthorityOf(key: PrimaryKey, state: AuthorityState, lookup: AuthorityLookup): EffectiveRead {
  let owner = key;
  let current: AuthorityState | undefined = state;
  for (let depth = 0; current !== undefined; depth++) {
    if (depth > MAX_DEPTH) throw new TrustError('authority chain too deep or cyclic');
    const r: ReadOption | undefined = current.auth?.read;
    if (r !== undefined && r.kind === 'everyone') return { kind: 'everyone' };
    if (r !== undefined && r.kind === 'specific') return { kind: 'domain', owner, readers: r.readers, previous: r.previous };
    if (current.parent === undefined) return { kind: 'everyone' };
    owner = current.parent.key;
    current = lookup(owner);
    if (current === undefined) throw new TrustError(`parent ${owner} does not exist`);
  }
  return { kind: 'everyone' };
}

export function allows(write: EffectiveWrite, signers: Iterable<KeyId>): boolean {
  if (write.kind === 'everyone') return true;
  if (write.kind === 'nobody') return false;
  for (const s of signers) if (write.keys.includes(s)) return true;
  return false;
}
