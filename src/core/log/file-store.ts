// Segments as files in the log's directory, through fs/promises only: the FUSE process must never
// block its event loop on a synchronous file call.
import { open, readdir, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CURRENT, CURRENT_TMP, encodeCurrent, parseSegmentFileName, segmentFileName } from './format.js';
import type { MutableStats, SegmentFile, SegmentStore } from './store.js';
import { ClosedError } from '../errors.js';

export class FileSegment implements SegmentFile {
  private closed = false;

  constructor(
    readonly name: string,
    private readonly fh: FileHandle,
    private readonly stats: MutableStats,
  ) {}

  static async open(path: string, writable: boolean, stats: MutableStats): Promise<FileSegment> {
    return new FileSegment(path, await open(path, writable ? 'r+' : 'r'), stats);
  }

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    this.check();
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  async write(offset: number, parts: Buffer[]): Promise<void> {
    this.check();
    let total = 0;
    for (const p of parts) total += p.length;
    const { bytesWritten } = await this.fh.writev(parts, offset);
    this.stats.writes++;
    if (bytesWritten !== total) throw new Error(`${this.name}: wrote ${bytesWritten} of ${total} bytes`);
  }

  async sync(): Promise<void> {
    this.check();
    await this.fh.datasync();
    this.stats.syncs++;
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  async truncate(length: number): Promise<void> {
    await this.fh.truncate(length);
    await this.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }

  private check(): void {
    if (this.closed) throw new ClosedError(`${this.name} was closed (the log was closed or compacted)`);
  }
}

export class FileStore implements SegmentStore {
  readonly keepsBuffers = false;

  constructor(
    readonly name: string,
    readonly stats: MutableStats,
  ) {}

  path(file: string): string {
    return join(this.name, file);
  }

  segmentPath(gen: number, seq: number): string {
    return this.path(segmentFileName(gen, seq));
  }

  async create(gen: number, seq: number, header: Buffer): Promise<SegmentFile> {
    const path = this.segmentPath(gen, seq);
    const seg = new FileSegment(path, await open(path, 'wx+'), this.stats);
    await seg.write(0, [header]);
    // The header is durable before any record follows it (see "torn creation").
    await seg.sync();
    await this.syncDir();
    return seg;
  }

  async commit(gen: number): Promise<void> {
    const tmp = this.path(CURRENT_TMP);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(encodeCurrent(gen));
      await fh.datasync();
      this.stats.syncs++;
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path(CURRENT));
    await this.syncDir();
  }

  async drop(gen: number): Promise<void> {
    await this.remove((name) => parseSegmentFileName(name)?.gen === gen);
  }

  async destroy(): Promise<void> {
    await this.remove((name) => name === CURRENT || name === CURRENT_TMP || parseSegmentFileName(name) !== undefined);
    await rmdir(this.name).catch(() => undefined); // leave a directory that holds other files
  }

  /** Deletes the files of the log's directory that `which` picks. */
  async remove(which: (name: string) => boolean): Promise<void> {
    const names = (await readdir(this.name)).filter(which);
    for (const name of names) await unlink(this.path(name));
    if (names.length > 0) await this.syncDir();
  }

  async syncDir(): Promise<void> {
    const fh = await open(this.name, 'r');
    try {
      await fh.sync();
      this.stats.syncs++;
    } finally {
      await fh.close();
    }
  }
}
