// Re-validation: the kept events are replayed, in log order, into a throwaway in-memory chain with
// this chain's validators and root keys. Whatever it refuses is dropped, so the compacted log
// holds only a history that validates from scratch.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { PublicSignKey } from '../../crypto/index.js';
import { openMemoryLog } from '../../log/index.js';
import { Chain } from '../chain.js';

export interface StoredEvent {
  readonly bytes: Uint8Array;
  readonly idBytes: Uint8Array;
}

/** Events per ingest call: signatures are verified on this thread, so the loop gets a turn between batches. */
const BATCH = 256;

function rootKeys(chain: Chain): PublicSignKey[] {
  const root = chain.rootWrite;
  if (root.kind !== 'specific') return [];
  return root.keys.map((id) => chain.book.publicKeys.get(id)).filter((k): k is PublicSignKey => k !== undefined);
}

/** The events the chain's validators accept when replayed from an empty chain, in the same order. */
export async function revalidate(chain: Chain, events: readonly StoredEvent[]): Promise<StoredEvent[]> {
  const scratch = await Chain.open({
    key: chain.key,
    // Centralized, and fed as from a trusted peer: the reference's forced centralized mode (its
    // 0.8 fix b81f2337). The log may hold events without a proof: accepted from a trusted server,
    // or written here and still owed their signature; judging them as a distributed chain would
    // drop them (and everything that depends on them). Everything else is checked: authority,
    // parents, timestamps, replays, custom validators, and every kept proof against the kept or
    // root public keys.
    config: { ...chain.config, integrity: 'centralized', compactMode: { kind: 'never' }, compactBootstrap: false },
    log: openMemoryLog({ chainKey: chain.key }),
    validators: chain.validators,
    linters: [],
    transformers: [],
    indexers: [],
    rootKeys: rootKeys(chain),
    treeAuthority: chain.treeAuthority,
    session: chain.defaultSession,
  });
  try {
    for (let i = 0; i < events.length; i += BATCH) {
      scratch.ingest(
        events.slice(i, i + BATCH).map((e) => e.bytes),
        { origin: 'replay', trustedPeer: true },
      );
      await yieldToLoop();
    }
    return events.filter((e) => scratch.view.ids.indexOf(e.idBytes) !== -1);
  } finally {
    await scratch.destroy();
  }
}
