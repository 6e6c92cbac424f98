// Signatures: proof events stay while they sign a kept event, so that every kept event can be
// verified again, by this chain and by any peer it is sent to.
//
// The first event that published each public key always stays, whether or not a kept event needs
// that key now: the chain never publishes a key it knows twice (its signer checks the chain's
// key book, which compaction does not shrink), so a later proof by that key would reach peers
// with no key to check it against. The reference keeps the newest signature per needed key,
// which can drop the event carrying the key itself. It costs one proof event per write key.
import type { KeyId } from '../../event/metadata.js';
import { isProof, publicKeyId } from '../../trust/signatures.js';
import type { CompactionEvent, Compactor, CompactorRun, PassContext, Vote } from './types.js';

function firstPublications(events: readonly CompactionEvent[]): Set<number> {
  const seen = new Set<KeyId>();
  const out = new Set<number>();
  for (const e of events) {
    for (const pub of e.meta.publicKeys ?? []) {
      const id = publicKeyId(pub);
      if (seen.has(id)) continue;
      seen.add(id);
      out.add(e.ordinal);
    }
  }
  return out;
}

class SignatureRun implements CompactorRun {
  constructor(
    private readonly pass: PassContext,
    private readonly publications: ReadonlySet<number>,
  ) {}

  vote(event: CompactionEvent): Vote {
    if (this.publications.has(event.ordinal)) return 'force-keep';
    if (!isProof(event.meta)) return 'abstain';
    // The events a proof signs come before it, so their fate is known from the previous pass.
    for (const sig of event.meta.signatures ?? []) {
      for (const id of sig.events) {
        const ordinal = this.pass.ordinalOf(id);
        if (ordinal !== -1 && this.pass.kept(ordinal)) return 'force-keep';
      }
    }
    return 'drop';
  }
}

export const signatureCompactor: Compactor = {
  name: 'signature',
  fresh: (pass: PassContext) => new SignatureRun(pass, firstPublications(pass.events)),
};
