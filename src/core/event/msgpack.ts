// A small msgpack writer and reader for event metadata. Metadata is encoded on every write and
// decoded on every replay, so it is done by hand over one buffer instead of through generic
// value trees (4x faster than msgpackr here). The bytes are ordinary msgpack: any msgpack
// library decodes them, and a test checks that msgpackr does.
import { Packr } from 'msgpackr';
import { DecodeError } from '../errors.js';

/** Items with tags this build does not know are decoded generically. */
const generic = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

/** Hex strings whose bytes a writer remembers. */
const RECENT = 4;

export class MsgWriter {
  private buf: Buffer;
  private at = 0;
  private readonly recentHex: string[] = [];
  private readonly recentBytes: Buffer[] = [];
  private nextRecent = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.at;
  }

  reset(): void {
    this.at = 0;
  }

  /** The bytes written so far (a view: copy before the next reset). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  arrayHeader(n: number): void {
    this.room(5);
    if (n < 16) this.buf[this.at++] = 0x90 | n;
    else if (n < 0x10000) {
      this.buf[this.at++] = 0xdc;
      this.buf.writeUInt16BE(n, this.at);
      this.at += 2;
    } else {
      this.buf[this.at++] = 0xdd;
      this.buf.writeUInt32BE(n, this.at);
      this.at += 4;
    }
  }

  uint(n: number): void {
    this.room(9);
    if (n < 0x80) this.buf[this.at++] = n;
    else if (n < 0x100) {
      this.buf[this.at++] = 0xcc;
      this.buf[this.at++] = n;
    } else if (n < 0x10000) {
      this.buf[this.at++] = 0xcd;
      this.buf.writeUInt16BE(n, this.at);
      this.at += 2;
    } else if (n < 0x100000000) {
      this.buf[this.at++] = 0xce;
      this.buf.writeUInt32BE(n, this.at);
      this.at += 4;
    } else {
      // Two 32-bit halves: a BigInt per timestamp costs more than the rest of the item.
      this.buf[this.at++] = 0xcf;
      this.buf.writeUInt32BE(Math.floor(n / 0x100000000), this.at);
      this.buf.writeUInt32BE(n >>> 0, this.at + 4);
      this.at += 8;
    }
  }

  /** A time in ms: an unsigned integer, or a float64 when it has a fraction (sub-millisecond stamps). */
  time(n: number): void {
    if (Number.isInteger(n)) return this.uint(n);
    this.room(9);
    this.buf[this.at++] = 0xcb;
    this.buf.writeDoubleBE(n, this.at);
    this.at += 8;
  }

  binHeader(n: number): void {
    this.room(5);
    if (n < 0x100) {
      this.buf[this.at++] = 0xc4;
      this.buf[this.at++] = n;
    } else if (n < 0x10000) {
      this.buf[this.at++] = 0xc5;
      this.buf.writeUInt16BE(n, this.at);
      this.at += 2;
    } else {
      this.buf[this.at++] = 0xc6;
      this.buf.writeUInt32BE(n, this.at);
      this.at += 4;
    }
  }

  bin(bytes: Uint8Array): void {
    this.binHeader(bytes.length);
    this.room(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  /**
   * Hex text written as the bytes it spells (keys and ids are hex in memory, bytes on disk).
   * `repeated`: the value recurs from event to event (a parent, a signer); its bytes are kept.
   */
  binHex(hex: string, repeated = false): void {
    const n = hex.length >>> 1;
    this.binHeader(n);
    this.room(n);
    const i = repeated ? this.recentHex.indexOf(hex) : -1;
    if (i !== -1) {
      const bytes = this.recentBytes[i]!;
      this.buf.set(bytes, this.at);
      this.at += bytes.length;
      return;
    }
    const at = this.at;
    this.at += this.buf.write(hex, at, n, 'hex');
    if (!repeated) return;
    this.recentHex[this.nextRecent] = hex;
    this.recentBytes[this.nextRecent] = Buffer.from(this.buf.subarray(at, this.at));
    this.nextRecent = (this.nextRecent + 1) % RECENT;
  }

  str(s: string): void {
    const n = Buffer.byteLength(s);
    this.room(5 + n);
    if (n < 32) this.buf[this.at++] = 0xa0 | n;
    else if (n < 0x100) {
      this.buf[this.at++] = 0xd9;
      this.buf[this.at++] = n;
    } else if (n < 0x10000) {
      this.buf[this.at++] = 0xda;
      this.buf.writeUInt16BE(n, this.at);
      this.at += 2;
    } else {
      this.buf[this.at++] = 0xdb;
      this.buf.writeUInt32BE(n, this.at);
      this.at += 4;
    }
    this.at += this.buf.write(s, this.at, n, 'utf8');
  }

  /** Any value, through msgpackr (only for items this build does not know). */
  any(v: unknown): void {
    const bytes = generic.pack(v);
    this.room(bytes.length);
    bytes.copy(this.buf, this.at);
    this.at += bytes.length;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}

function fail(reason: string): never {
  throw new DecodeError(`malformed event: ${reason}`);
}

export class MsgReader {
  at: number;

  constructor(
    private buf: Buffer,
    start: number,
    private end: number,
  ) {
    this.at = start;
  }

  /** Reads other bytes with the same reader (a replay decodes a million events with one). */
  reset(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.at = start;
    this.end = end;
  }

  /** Whether the next `n` bytes equal `bytes[from, from + n)` (without consuming them). */
  matches(bytes: Uint8Array, from: number, n: number): boolean {
    if (this.at + n > this.end) return false;
    for (let i = 0; i < n; i++) if (this.buf[this.at + i] !== bytes[from + i]) return false;
    return true;
  }

  /** Skips one value of any type. */
  skipValue(): void {
    this.skip(0);
  }

  get done(): boolean {
    return this.at >= this.end;
  }

  private need(n: number): void {
    if (this.at + n > this.end) fail('metadata ends early');
  }

  private byte(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  peek(): number {
    this.need(1);
    return this.buf[this.at]!;
  }

  arrayHeader(what: string): number {
    const b = this.byte();
    if ((b & 0xf0) === 0x90) return b & 0x0f;
    if (b === 0xdc) return this.u16();
    if (b === 0xdd) return this.u32();
    return fail(`${what} is not a list`);
  }

  uint(what: string): number {
    const b = this.byte();
    if (b < 0x80) return b;
    if (b === 0xcc) return this.byte();
    if (b === 0xcd) return this.u16();
    if (b === 0xce) return this.u32();
    if (b === 0xcf) {
      this.need(8);
      const n = this.buf.readBigUInt64BE(this.at);
      this.at += 8;
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} is too large`);
      return Number(n);
    }
    return fail(`${what} is not an unsigned integer`);
  }

  /** A time in ms written by MsgWriter.time. */
  time(what: string): number {
    this.need(1);
    if (this.buf[this.at] !== 0xcb) return this.uint(what);
    this.at++;
    this.need(8);
    const n = this.buf.readDoubleBE(this.at);
    this.at += 8;
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER)) fail(`${what} is not a time`);
    return n;
  }

  /** A bin value as a view into the source bytes. */
  bin(what: string, length?: number): Buffer {
    const b = this.byte();
    let n: number;
    if (b === 0xc4) n = this.byte();
    else if (b === 0xc5) n = this.u16();
    else if (b === 0xc6) n = this.u32();
    else return fail(`${what} is not bytes`);
    if (length !== undefined && n !== length) fail(`${what} has ${n} bytes, expected ${length}`);
    this.need(n);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  binHex(what: string, length: number): string {
    const b = this.byte();
    if (b !== 0xc4) fail(`${what} is not bytes`);
    const n = this.byte();
    if (n !== length) fail(`${what} has ${n} bytes, expected ${length}`);
    this.need(n);
    const out = this.buf.toString('hex', this.at, this.at + n);
    this.at += n;
    return out;
  }

  str(what: string): string {
    const b = this.byte();
    let n: number;
    if ((b & 0xe0) === 0xa0) n = b & 0x1f;
    else if (b === 0xd9) n = this.byte();
    else if (b === 0xda) n = this.u16();
    else if (b === 0xdb) n = this.u32();
    else return fail(`${what} is not a string`);
    this.need(n);
    const out = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** Any msgpack value (for unknown items): its extent is found by skipping, then msgpackr decodes it. */
  any(): unknown {
    const start = this.at;
    this.skip(0);
    try {
      return generic.unpack(this.buf.subarray(start, this.at));
    } catch {
      return fail('an unknown item is not valid msgpack');
    }
  }

  private skip(depth: number): void {
    if (depth > 64) fail('nesting too deep');
    const b = this.byte();
    if (b < 0x80 || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return;
    if ((b & 0xf0) === 0x80) return this.skipMany((b & 0x0f) * 2, depth);
    if ((b & 0xf0) === 0x90) return this.skipMany(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return this.advance(b & 0x1f);
    switch (b) {
      case 0xc4:
      case 0xd9:
        return this.advance(this.byte());
      case 0xc5:
      case 0xda:
        return this.advance(this.u16());
      case 0xc6:
      case 0xdb:
        return this.advance(this.u32());
      case 0xc7:
        return this.advance(this.byte() + 1);
      case 0xc8:
        return this.advance(this.u16() + 1);
      case 0xc9:
        return this.advance(this.u32() + 1);
      case 0xca:
        return this.advance(4);
      case 0xcb:
        return this.advance(8);
      case 0xcc:
      case 0xd0:
        return this.advance(1);
      case 0xcd:
      case 0xd1:
        return this.advance(2);
      case 0xce:
      case 0xd2:
        return this.advance(4);
      case 0xcf:
      case 0xd3:
        return this.advance(8);
      case 0xd4:
        return this.advance(2);
      case 0xd5:
        return this.advance(3);
      case 0xd6:
        return this.advance(5);
      case 0xd7:
        return this.advance(9);
      case 0xd8:
        return this.advance(17);
      case 0xdc:
        return this.skipMany(this.u16(), depth);
      case 0xdd:
        return this.skipMany(this.u32(), depth);
      case 0xde:
        return this.skipMany(this.u16() * 2, depth);
      case 0xdf:
        return this.skipMany(this.u32() * 2, depth);
      default:
        return fail(`byte 0x${b.toString(16)} is not msgpack`);
    }
  }

  private skipMany(n: number, depth: number): void {
    for (let i = 0; i < n; i++) this.skip(depth + 1);
  }

  private advance(n: number): void {
    this.need(n);
    this.at += n;
  }

  private u16(): number {
    this.need(2);
    const n = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return n;
  }

  private u32(): number {
    this.need(4);
    const n = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return n;
  }
}
