// Shared by the redo log tests: temp directories, events, replay collection, byte surgery.
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { LogPosition, RedoLog } from '../../../src/core/log/index.js';

export const CHAIN = 'test/chain';
export const KEY = Buffer.alloc(32, 7);

/** Runs `fn` with a fresh directory that is removed afterwards. */
export async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ate-log-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function event(i: number, size = 20 + (i % 7) * 13): Buffer {
  const b = Buffer.alloc(size, i & 0xff);
  b.write(`event ${i};`, 0, 'latin1');
  return b;
}

export interface Replayed {
  bytes: Buffer;
  pos: LogPosition;
  sealed: boolean;
}

export async function collect(log: RedoLog): Promise<Replayed[]> {
  const out: Replayed[] = [];
  for await (const batch of log.replay()) {
    for (const e of batch.events) out.push({ bytes: Buffer.from(e.bytes), pos: e.pos, sealed: batch.sealed });
  }
  return out;
}

export async function bytesOf(log: RedoLog): Promise<Buffer[]> {
  return (await collect(log)).map((e) => e.bytes);
}

export function segPath(dir: string, gen: number, seq: number): string {
  return join(dir, `${String(gen).padStart(10, '0')}-${String(seq).padStart(10, '0')}.seg`);
}

/** The segment sequence number of a position (the segment number also encodes the generation). */
export function seqOf(pos: LogPosition): number {
  return pos.segment % 2 ** 21;
}

export async function patch(file: string, offset: number, bytes: Uint8Array): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
}

export async function flipByte(file: string, offset: number): Promise<void> {
  const buf = await readFile(file);
  buf[offset] = buf[offset]! ^ 0x5a;
  await writeFile(file, buf);
}

/** Changes a record's payload byte and fixes its CRC, as someone without the seal key could. */
export async function tamper(file: string, recordOffset: number, payloadIndex: number): Promise<void> {
  const buf = await readFile(file);
  const len = buf.readUInt32BE(recordOffset);
  buf[recordOffset + 5 + payloadIndex] = buf[recordOffset + 5 + payloadIndex]! ^ 0xff;
  const end = recordOffset + 5 + len;
  buf.writeUInt32BE(crc32(buf.subarray(recordOffset, end)), end);
  await writeFile(file, buf);
}

/** Rewrites a header field and fixes the header CRC. */
export async function patchHeader(file: string, edit: (header: Buffer) => void): Promise<void> {
  const buf = await readFile(file);
  const len = buf.readUInt16BE(10);
  edit(buf);
  buf.writeUInt32BE(crc32(buf.subarray(0, len - 4)), len - 4);
  await writeFile(file, buf);
}
