// One compaction of a chain: read the log's headers, let the compactors vote until the kept set
// is stable, validate the kept history again from scratch, and swap the log for it.
import { performance } from 'node:perf_hooks';
import { type EventId, eventIdBytes, eventIdFromHash } from '../../event/ids.js';
import { decodeEvent } from '../../event/encoding.js';
import type { Metadata } from '../../event/metadata.js';
import type { Chain } from '../chain.js';
import { hashEvent } from '../hash-event.js';
import type { IngestEvent } from '../plugins.js';
import { cutOffCompactor, nextCutOff } from './cut-off.js';
import { type StoredEvent, revalidate } from './revalidate.js';
import type { CompactionEvent, CompactionStats, Compactor } from './types.js';
import { decide } from './voting.js';

/** Event framing (docs/FORMAT.md "Events"): version, flags, 4-byte metadata length, metadata, data. */
const HEAD = 6;

/**
 * Metadata decoded from a copy of the event's head: decoded metadata points into the bytes it came
 * from, and this way the data need not stay in memory while the compactors vote.
 */
function metaOf(bytes: Uint8Array): Metadata {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length < HEAD ? bytes.length : Math.min(bytes.length, HEAD + view.getUint32(2));
  return decodeEvent(new Uint8Array(bytes.subarray(0, end))).meta;
}

async function readHeaders(chain: Chain, count: number): Promise<CompactionEvent[]> {
  const events: CompactionEvent[] = [];
  for await (const bytes of chain.history()) {
    const ordinal = events.length;
    if (ordinal === count) break;
    const idBytes = hashEvent(bytes);
    events.push({ id: eventIdFromHash(idBytes), idBytes, meta: metaOf(bytes), ordinal, timestamp: chain.view.timeOf(ordinal) });
  }
  return events;
}

async function readKept(chain: Chain, events: readonly CompactionEvent[], kept: Uint8Array): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let ordinal = 0;
  for await (const bytes of chain.history()) {
    if (ordinal === events.length) break;
    if (kept[ordinal] === 1) out.push({ bytes, idBytes: events[ordinal]!.idBytes });
    ordinal++;
  }
  return out;
}

/** Collects the events applied after the snapshot: they are newer than anything voted on and kept as they are. */
function captureArrivals(chain: Chain): { readonly events: StoredEvent[]; stop(): void } {
  const events: StoredEvent[] = [];
  // The listener's bytes may be a caller's buffer (a network frame): keep a copy.
  const stop = chain.onEvent((e: IngestEvent) => events.push({ bytes: Uint8Array.from(e.bytes), idBytes: e.idBytes }));
  return { events, stop };
}

/**
 * Compacts with these compactors (and the cut-off); `now` (default: the time of the snapshot)
 * places the cut-off. Writes made while it runs are kept as they are, after the compacted history.
 */
export async function compactChain(chain: Chain, compactors: readonly Compactor[], now?: number): Promise<CompactionStats> {
  const started = performance.now();
  // The proofs owed for what was written so far join the log first: the snapshot is then
  // self-contained, and the proofs are judged together with the events they sign.
  await chain.sync();
  const at = now ?? Date.now();
  const bytesBefore = chain.logSize;
  const count = chain.view.count;
  const arrivals = captureArrivals(chain);
  try {
    const events = await readHeaders(chain, count);
    const newest = events.reduce((max, e) => Math.max(max, e.timestamp), 0);
    const cutOff = nextCutOff(chain.cutOff, at, chain.config.syncToleranceMs, newest);
    const ordinalOf = (id: EventId): number => {
      const ordinal = chain.view.ids.indexOf(eventIdBytes(id));
      return ordinal < count ? ordinal : -1;
    };
    const kept = await decide(events, [...compactors, cutOffCompactor(cutOff)], ordinalOf);
    const candidates = await readKept(chain, events, kept);
    const offered = [...candidates, ...arrivals.events];
    const valid = await revalidate(chain, offered);
    // Events that arrived while that ran passed the live chain's validators against the current
    // state, which compaction keeps; they follow as they are, with no await before the swap.
    const late = arrivals.events.slice(offered.length - candidates.length);
    await chain.rewrite(
      [...valid, ...late].map((e) => e.bytes),
      cutOff,
    );
    return {
      before: count + offered.length - candidates.length + late.length,
      after: valid.length + late.length,
      dropped: count - candidates.length,
      refused: offered.length - valid.length,
      bytesBefore,
      bytesAfter: chain.logSize,
      cutOff,
      ms: performance.now() - started,
    };
  } finally {
    arrivals.stop();
  }
}
