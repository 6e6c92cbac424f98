// Signatures: one per write key over a group of events (see docs/FORMAT.md "Signatures").
// The book knows the chain's public write keys and which events a verified signature covers.
import { createHash } from 'node:crypto';
import { type PublicSignKey, signKeyHash, toHex, verify } from '../crypto/index.js';
import type { EventId } from '../event/ids.js';
import type { KeyId, Metadata, SignatureItem } from '../event/metadata.js';
export { signatureItem } from '../event/signature-item.js';
import { TrustError } from '../errors.js';

/** What a signature signs: the hash of the concatenated ids of the events it covers. */
export function signedMessage(events: readonly EventId[]): Uint8Array {
  const h = createHash('sha256').update('ate/signature');
  for (const e of events) h.update(Buffer.from(e, 'hex'));
  return h.digest();
}

/** What a signature signs, from the ids as bytes. */
export function signedMessageOfBytes(eventBytes: Uint8Array): Uint8Array {
  return createHash('sha256').update('ate/signature').update(eventBytes).digest();
}

function signedMessageOf(sig: SignatureItem): Uint8Array {
  return sig.eventBytes ? signedMessageOfBytes(sig.eventBytes) : signedMessage(sig.events);
}

/** The ids each of a proof's signatures covers, back to back (32 bytes each; no hex strings). */
export function coveredIdBlocks(meta: Metadata): Uint8Array[] {
  return (meta.signatures ?? []).map((sig) => sig.eventBytes ?? Buffer.from(sig.events.join(''), 'hex'));
}

export function publicKeyId(pub: PublicSignKey): KeyId {
  return toHex(signKeyHash(pub)) as KeyId;
}

/** An event that only carries proofs: public keys and signatures. */
export function isProof(meta: Metadata): boolean {
  return (meta.signatures !== undefined || meta.publicKeys !== undefined) && meta.key === undefined && meta.tombstone === undefined;
}

const NONE: ReadonlySet<KeyId> = new Set();

export class SignatureBook {
  readonly publicKeys = new Map<KeyId, PublicSignKey>();
  /** Keys whose public half is in the chain's own events (root keys come from configuration). */
  readonly published = new Set<KeyId>();
  /** Signers of events that are not yet applied (their signature arrived first, or they wait). */
  private readonly signers = new Map<EventId, Set<KeyId>>();

  addPublicKey(pub: PublicSignKey): KeyId {
    const id = publicKeyId(pub);
    // Copied: decoded keys are views into read buffers that the log reuses.
    if (!this.publicKeys.has(id)) this.publicKeys.set(id, { alg: pub.alg, bytes: Uint8Array.from(pub.bytes) });
    return id;
  }

  /**
   * Takes in a proof event. With `check`, every signature must verify against a known public
   * key (TrustError otherwise); without it (a sealed log written by us) they are trusted.
   * With `record`, the covered events' signers are kept until they are settled, and the
   * covered events are returned (otherwise: see coveredIdBlocks).
   */
  absorb(meta: Metadata, check: boolean, record: boolean): EventId[] {
    for (const pub of meta.publicKeys ?? []) this.published.add(this.addPublicKey(pub));
    const covered: EventId[] = [];
    for (const sig of meta.signatures ?? []) {
      if (check) this.verifyItem(sig);
      if (!record) continue;
      for (const e of sig.events) {
        covered.push(e);
        let set = this.signers.get(e);
        if (!set) this.signers.set(e, (set = new Set()));
        set.add(sig.signer);
      }
    }
    return covered;
  }

  signersOf(id: EventId): ReadonlySet<KeyId> {
    return this.signers.get(id) ?? NONE;
  }

  /** The event was applied (or dropped): its signer record is no longer needed. */
  settle(event: { readonly id: EventId }): void {
    // Most events have no record here (unsigned chains, events whose proof comes later): their
    // hex id, made on first use, is not worth making for nothing.
    if (this.signers.size > 0) this.signers.delete(event.id);
  }

  private verifyItem(sig: SignatureItem): void {
    const pub = this.publicKeys.get(sig.signer);
    if (!pub) throw new TrustError(`signature by unknown key ${sig.signer.slice(0, 16)}: the chain has no such public key`);
    if (!verify(pub, signedMessageOf(sig), sig.signature)) {
      throw new TrustError(`signature by key ${sig.signer.slice(0, 16)} does not verify: the events or the signature were altered`);
    }
  }
}
