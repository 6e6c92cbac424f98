// The extension points of the ingest pipeline. Every event passes the validators (Deny wins,
// at least one Allow is needed), then the indexers; linters and transformers run when a
// transaction builds its events.
import type { EventId, PrimaryKey } from '../event/ids.js';
import type { KeyId, Metadata } from '../event/metadata.js';
import type { AuthorityLookup, EffectiveWrite } from '../trust/authority.js';
import type { AteSession } from '../session/session.js';
import type { ChainView } from './view.js';

/** An event as the pipeline sees it: its stored bytes, id and decoded metadata. */
export interface IngestEvent {
  readonly id: EventId;
  readonly idBytes: Uint8Array;
  readonly bytes: Uint8Array;
  readonly meta: Metadata;
}

/** local: built by a transaction here; remote: received from a peer; replay: read back from an unsealed log. */
export type Origin = 'local' | 'remote' | 'replay';

export type Verdict =
  | { readonly kind: 'allow' }
  | { readonly kind: 'abstain' }
  | { readonly kind: 'deny'; readonly reason: string; readonly class?: 'trust' | 'replay' | 'time' };

export const ALLOW: Verdict = { kind: 'allow' };
export const ABSTAIN: Verdict = { kind: 'abstain' };
export const deny = (reason: string, cls?: 'trust' | 'replay' | 'time'): Verdict =>
  cls ? { kind: 'deny', reason, class: cls } : { kind: 'deny', reason };

export interface ValidationContext {
  readonly origin: Origin;
  readonly view: ChainView;
  readonly authority: AuthorityLookup;
  readonly rootWrite: EffectiveWrite;
  /** Keys proven to have signed this event (verified signatures, or local signing obligations). */
  readonly signersOf: (event: IngestEvent) => ReadonlySet<KeyId>;
  /** Centralized integrity: the peer is trusted, unsigned events are accepted. */
  readonly trustedPeer: boolean;
  readonly now: number;
}

export interface Validator {
  readonly name: string;
  validate(event: IngestEvent, ctx: ValidationContext): Verdict;
}

export interface LintContext {
  readonly session: AteSession;
  readonly authority: AuthorityLookup;
  readonly rootWrite: EffectiveWrite;
}

/** Adds metadata to an event a transaction is building (for example its author). */
export interface Linter {
  readonly name: string;
  lint(meta: Metadata, ctx: LintContext): Partial<Metadata>;
}

/** Reversible change of an object's serialized data before it is encrypted (for example compression). */
export interface Transformer {
  readonly name: string;
  encode(data: Uint8Array, key: PrimaryKey): Uint8Array;
  decode(data: Uint8Array, key: PrimaryKey): Uint8Array;
}

/** A secondary index kept beside the view. */
export interface Indexer {
  readonly name: string;
  feed(event: IngestEvent, ordinal: number): void;
  /** Forget everything: the view is about to be rebuilt (after compaction). */
  reset(): void;
}

/** A bundle of extensions. */
export interface Plugin {
  readonly name: string;
  readonly validators?: readonly Validator[];
  readonly linters?: readonly Linter[];
  readonly transformers?: readonly Transformer[];
  readonly indexers?: readonly Indexer[];
}
