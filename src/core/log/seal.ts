// The seal chain (docs/FORMAT.md, "Seal"): one streaming SHA-256 per segment body, chained through
// each segment's base, and HMAC-SHA256 seals over (count, hash).
import { createHash, createHmac, timingSafeEqual, type Hash } from 'node:crypto';
import { HASH_BYTES, SEAL_PAYLOAD, readU64, writeU64 } from './format.js';

const DOMAIN = Buffer.from('ATE redo log seal v1\0', 'latin1');

/** The chain value at the start of a generation's first segment. */
export function firstBase(gen: number, cutOff: number, chainKey: Buffer): Buffer {
  const fields = Buffer.alloc(14);
  fields.writeUInt32BE(gen, 0);
  writeU64(fields, 4, cutOff);
  fields.writeUInt16BE(chainKey.length, 12);
  return createHash('sha256').update(DOMAIN).update(fields).update(chainKey).digest();
}

/** The running hash of one segment body, from its base. */
export class SealChain {
  static start(base: Buffer): SealChain {
    return new SealChain(createHash('sha256').update(base));
  }

  private constructor(private hash: Hash) {}

  update(bytes: Uint8Array): void {
    this.hash.update(bytes);
  }

  /** The hash of everything so far; the chain goes on. */
  digest(): Buffer {
    return this.hash.copy().digest();
  }

  copy(): SealChain {
    return new SealChain(this.hash.copy());
  }

  /** Ends the segment: its value is the next segment's base. */
  nextSegment(): Buffer {
    const base = this.hash.digest();
    this.hash = createHash('sha256').update(base);
    return base;
  }
}

function mac(key: Uint8Array, countAndHash: Buffer): Buffer {
  return createHmac('sha256', key).update(countAndHash).digest();
}

/** Fills the 72-byte seal payload at `at`. */
export function writeSeal(buf: Buffer, at: number, key: Uint8Array, count: number, hash: Buffer): void {
  writeU64(buf, at, count);
  hash.copy(buf, at + 8);
  mac(key, buf.subarray(at, at + 8 + HASH_BYTES)).copy(buf, at + 8 + HASH_BYTES);
}

/** Whether the seal payload at `at` vouches for `count` events hashing to `hash`. */
export function sealValid(buf: Buffer, at: number, key: Uint8Array, count: number, hash: Buffer): boolean {
  if (readU64(buf, at) !== count) return false;
  const signed = buf.subarray(at, at + 8 + HASH_BYTES);
  if (!signed.subarray(8).equals(hash)) return false;
  return timingSafeEqual(mac(key, signed), buf.subarray(at + 8 + HASH_BYTES, at + SEAL_PAYLOAD));
}

/** The writer's side: the chain over what it has handed to the file, and the seq it is hashing. */
export class SealWriter {
  constructor(
    readonly key: Uint8Array,
    readonly chain: SealChain,
    private seq: number,
    /** Receives each new segment's base, for its header. */
    private readonly onBase: (seq: number, base: Buffer) => void,
  ) {}

  /** Moves the chain to segment `seq`, ending the segments before it. */
  advanceTo(seq: number): void {
    while (this.seq < seq) {
      const base = this.chain.nextSegment();
      this.seq++;
      this.onBase(this.seq, base);
    }
  }
}
