// Checking replayed records, chunk by chunk in order: CRCs without a seal key; with one, the seal
// chain, recomputed from the generation's first base (a stored base is never trusted). A valid seal
// vouches for every byte before it, so the records it covers need no CRC.
import { SEAL_PAYLOAD, crcMatches } from './format.js';
import { SealChain, sealValid } from './seal.js';

export interface Verdict {
  /** The first record that fails its CRC, or -1. */
  readonly badAt: number;
  /** The last valid seal (an index into the chunk's seals), or -1. */
  readonly sealIndex: number;
}

export class Verifier {
  private chain: SealChain | undefined;
  /** The recomputed chain value at the start of the current segment (with a key). */
  base: Buffer | undefined;

  constructor(
    private readonly sealKey: Uint8Array | undefined,
    private readonly firstBase: Buffer,
  ) {}

  startSegment(): void {
    if (!this.sealKey) return;
    this.base = this.chain ? this.chain.nextSegment() : this.firstBase;
    this.chain ??= SealChain.start(this.firstBase);
  }

  /**
   * Checks `buf` (whole records): without a key the CRC of the records at `records`; with one the
   * seals at `seals` (offset, events of the generation before it; interleaved).
   */
  check(buf: Buffer, records: readonly number[], seals: readonly number[]): Verdict {
    const key = this.sealKey;
    if (!key) {
      for (const at of records) if (!crcMatches(buf, at, buf.readUInt32BE(at))) return { badAt: at, sealIndex: -1 };
      return { badAt: -1, sealIndex: -1 };
    }
    const chain = this.chain!;
    const n = seals.length / 2;
    if (n === 0) {
      chain.update(buf);
      return { badAt: -1, sealIndex: -1 };
    }
    const lastAt = seals[2 * n - 2]!;
    const before = chain.copy();
    chain.update(buf.subarray(0, lastAt));
    const verdict = sealValid(buf, lastAt + 5, key, seals[2 * n - 1]!, chain.digest())
      ? { badAt: -1, sealIndex: n - 1 }
      : lastValid(buf, seals, before, key);
    chain.update(buf.subarray(lastAt));
    return verdict;
  }

  /** The chain after everything checked so far (with a key). */
  get state(): SealChain | undefined {
    return this.chain;
  }
}

/** The last seal of a chunk failed: the last one before it that holds (rare). */
function lastValid(buf: Buffer, seals: readonly number[], chain: SealChain, key: Uint8Array): Verdict {
  let sealIndex = -1;
  let from = 0;
  for (let i = 0; i < seals.length; i += 2) {
    const at = seals[i]!;
    chain.update(buf.subarray(from, at));
    from = at;
    if (sealValid(buf, at + 5, key, seals[i + 1]!, chain.digest())) sealIndex = i / 2;
    else if (!crcMatches(buf, at, SEAL_PAYLOAD)) return { badAt: at, sealIndex };
  }
  return { badAt: -1, sealIndex };
}
