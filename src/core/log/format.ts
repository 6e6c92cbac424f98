// The redo log's bytes on disk, exactly as docs/FORMAT.md ("Redo log") writes them down.
import { crc32 } from 'node:zlib';
import { LogCorruptError, LogForeignFileError, LogVersionError } from '../errors.js';
import type { SegmentNo } from './types.js';

export const MAGIC = Buffer.from([0x89, 0x41, 0x54, 0x45, 0x4c, 0x4f, 0x47, 0x0a]); // "\x89ATELOG\n"
export const VERSION = 1;

export const MAX_GEN = 2 ** 32 - 1;
export const MAX_SEQ = 2 ** 21 - 1;

export const EVENT = 1;
export const SEAL = 2;
/** Length, type and CRC around a payload. */
export const RECORD_OVERHEAD = 9;
/** A bound on a record's length, so that a garbage length cannot allocate gigabytes. */
export const MAX_PAYLOAD = 64 * 1024 * 1024;
export const SEAL_PAYLOAD = 72;
export const SEAL_RECORD = SEAL_PAYLOAD + RECORD_OVERHEAD;
export const HASH_BYTES = 32;

const HEADER_FIXED = 82;
const KEY_AT = 78;
/** Header bytes that a torn creation may hold in any state: cut-off, counts, base; then the CRC. */
const UNKNOWN_FROM = 20;
const UNKNOWN_TO = 44 + HASH_BYTES;

export function segmentNo(gen: number, seq: number): SegmentNo {
  return (gen * (MAX_SEQ + 1) + seq) as SegmentNo;
}

export function splitSegmentNo(no: SegmentNo): { gen: number; seq: number } {
  return { gen: Math.floor(no / (MAX_SEQ + 1)), seq: no % (MAX_SEQ + 1) };
}

// ---- file names ----------------------------------------------------------------------------

export const CURRENT = 'CURRENT';
export const CURRENT_TMP = 'CURRENT.tmp';

export function segmentFileName(gen: number, seq: number): string {
  return `${String(gen).padStart(10, '0')}-${String(seq).padStart(10, '0')}.seg`;
}

export function parseSegmentFileName(name: string): { gen: number; seq: number } | undefined {
  const m = /^(\d{10})-(\d{10})\.seg$/.exec(name);
  if (!m) return undefined;
  const gen = Number(m[1]);
  const seq = Number(m[2]);
  return gen <= MAX_GEN && seq <= MAX_SEQ ? { gen, seq } : undefined;
}

function crcHex(text: string): string {
  return crc32(text).toString(16).padStart(8, '0');
}

export function encodeCurrent(gen: number): string {
  return `ATELOG ${gen} ${crcHex(`ATELOG ${gen}`)}\n`;
}

/** The generation a CURRENT file names. */
export function decodeCurrent(text: string, file: string): number {
  if (!text.startsWith('ATELOG ')) throw new LogForeignFileError(file, 'not an ATE log CURRENT file');
  const m = /^ATELOG (\d{1,10}) ([0-9a-f]{8})\n$/.exec(text);
  const gen = m ? Number(m[1]) : NaN;
  if (!m || gen > MAX_GEN || crcHex(`ATELOG ${m[1]}`) !== m[2]) {
    throw new LogCorruptError(file, 0, 'CURRENT is damaged');
  }
  return gen;
}

// ---- segment header ------------------------------------------------------------------------

export interface SegmentHeader {
  readonly gen: number;
  readonly seq: number;
  readonly cutOff: number;
  readonly countBefore: number;
  readonly bytesBefore: number;
  /** The seal chain value at the start of the segment; zeros when the writer did not know it. */
  readonly base: Buffer;
  readonly chainKey: Buffer;
}

export function headerLength(chainKey: Buffer): number {
  return HEADER_FIXED + chainKey.length;
}

/** Enough bytes to hold any header. */
export const MAX_HEADER = HEADER_FIXED + 0xffff;

export function writeU64(buf: Buffer, at: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / 2 ** 32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

export function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
}

export function encodeHeader(h: SegmentHeader): Buffer {
  const len = headerLength(h.chainKey);
  const buf = Buffer.alloc(len);
  MAGIC.copy(buf, 0);
  buf.writeUInt16BE(VERSION, 8);
  buf.writeUInt16BE(len, 10);
  buf.writeUInt32BE(h.gen, 12);
  buf.writeUInt32BE(h.seq, 16);
  writeU64(buf, 20, h.cutOff);
  writeU64(buf, 28, h.countBefore);
  writeU64(buf, 36, h.bytesBefore);
  h.base.copy(buf, 44);
  buf.writeUInt16BE(h.chainKey.length, 76);
  h.chainKey.copy(buf, KEY_AT);
  buf.writeUInt32BE(crc32(buf.subarray(0, len - 4)), len - 4);
  return buf;
}

/**
 * Parses and checks the header at the start of `buf` (the file's first bytes). Throws
 * LogForeignFileError, LogCorruptError or LogVersionError naming `file`.
 */
export function decodeHeader(
  buf: Buffer,
  file: string,
  expect: { gen: number; seq: number; chainKey: Buffer },
): SegmentHeader {
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new LogForeignFileError(file, 'not an ATE redo log segment');
  }
  if (buf.length < 12) throw new LogCorruptError(file, buf.length, 'segment header is truncated');
  const len = buf.readUInt16BE(10);
  if (len < HEADER_FIXED || len > buf.length) {
    throw new LogCorruptError(file, 10, `segment header length ${len} does not fit the file`);
  }
  if (crc32(buf.subarray(0, len - 4)) !== buf.readUInt32BE(len - 4)) {
    throw new LogCorruptError(file, len - 4, 'segment header checksum mismatch');
  }
  const version = buf.readUInt16BE(8);
  if (version > VERSION) throw new LogVersionError(file, version);
  if (version < 1) throw new LogCorruptError(file, 8, 'segment header has version 0');
  const gen = buf.readUInt32BE(12);
  const seq = buf.readUInt32BE(16);
  if (gen !== expect.gen || seq !== expect.seq) {
    throw new LogCorruptError(file, 12, `header says generation ${gen} segment ${seq}, unlike its file name`);
  }
  const keyLen = buf.readUInt16BE(76);
  if (KEY_AT + keyLen + 4 !== len) throw new LogCorruptError(file, 76, 'chain key length does not match the header length');
  const chainKey = buf.subarray(KEY_AT, KEY_AT + keyLen);
  if (!chainKey.equals(expect.chainKey)) {
    throw new LogForeignFileError(file, `it belongs to chain ${JSON.stringify(chainKey.toString('utf8'))}`);
  }
  return {
    gen,
    seq,
    cutOff: readU64(buf, 20),
    countBefore: readU64(buf, 28),
    bytesBefore: readU64(buf, 36),
    base: Buffer.from(buf.subarray(44, 44 + HASH_BYTES)),
    chainKey: Buffer.from(chainKey),
  };
}

/**
 * A crash while a segment was being created leaves at most a header's worth of bytes, each either
 * still zero or what the header must hold (the cut-off, counts, base and CRC excepted).
 */
export function isTornCreation(buf: Buffer, expect: { gen: number; seq: number; chainKey: Buffer }): boolean {
  const model = encodeHeader({ ...expect, cutOff: 0, countBefore: 0, bytesBefore: 0, base: Buffer.alloc(HASH_BYTES) });
  if (buf.length > model.length) return false;
  for (let i = 0; i < buf.length; i++) {
    const unknown = (i >= UNKNOWN_FROM && i < UNKNOWN_TO) || i >= model.length - 4;
    if (buf[i] !== 0 && !unknown && buf[i] !== model[i]) return false;
  }
  return true;
}

// ---- records -------------------------------------------------------------------------------

/** Writes the length, type and CRC around the payload already placed at `at + 5`. */
export function frameRecord(buf: Buffer, at: number, type: number, payloadLength: number): void {
  buf.writeUInt32BE(payloadLength, at);
  buf[at + 4] = type;
  const end = at + 5 + payloadLength;
  buf.writeUInt32BE(crc32(new Uint8Array(buf.buffer, buf.byteOffset + at, 5 + payloadLength)), end);
}

/** Why the record's length or type is impossible, or undefined. */
export function headProblem(len: number, type: number | undefined): string | undefined {
  if (len > MAX_PAYLOAD) return `impossible record length ${len}`;
  if (type === EVENT || (type === SEAL && len === SEAL_PAYLOAD)) return undefined;
  return type === SEAL ? `seal record of length ${len}` : `unknown record type ${type}`;
}

/** Whether the complete record at `at` (its length known to fit `buf`) passes its CRC. */
export function crcMatches(buf: Buffer, at: number, len: number): boolean {
  // A plain view: cheaper to make than a Buffer (this runs once per replayed record).
  return crc32(new Uint8Array(buf.buffer, buf.byteOffset + at, 5 + len)) === buf.readUInt32BE(at + 5 + len);
}
