// Sealing for large transactions in a worker thread. AES-256-GCM through node:crypto costs about
// 8 us per 1 KiB item, most of it fixed cost per call; a transaction of a hundred objects would
// hold the event loop for a millisecond. Small jobs are sealed inline: the hand-off costs more.
import { Worker } from 'node:worker_threads';
import { ClosedError } from '../errors.js';
import { SEAL_OVERHEAD, type SymmetricKey, seal } from './aead.js';
import type { SealReply, SealRequest } from './seal-worker.js';

const WORKER_URL = new URL('./seal-worker.js', import.meta.url);

/** Below this many plaintext bytes in one call, sealing inline is cheaper than the hand-off. */
export const SEAL_POOL_THRESHOLD = 32 * 1024;
/** Requests in flight at once are few (a writer waits for the one before); so are spare buffers. */
const MAX_SPARES = 4;
/** A rare huge transaction's memory is not held on to. */
const MAX_SPARE_BYTES = 16 * 1024 * 1024;

export interface SealItem {
  readonly plain: Uint8Array;
  readonly aad: Uint8Array;
}

export class SealPool {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve(b: Uint8Array): void; reject(e: Error): void }>();
  private nextId = 1;
  private closed = false;
  /** Plaintext memory back from the worker, for the next requests. */
  private readonly spares: ArrayBuffer[] = [];

  /** Seals every item with one key; all aads have the same length. */
  async sealMany(key: SymmetricKey, items: readonly SealItem[]): Promise<Uint8Array[]> {
    const total = items.reduce((n, i) => n + i.plain.length, 0);
    if (total < SEAL_POOL_THRESHOLD || items.length < 2 || this.closed) return items.map((i) => seal(key, i.plain, i.aad));
    const aadLength = items[0]!.aad.length;
    const id = this.nextId++;
    const request: SealRequest = {
      id,
      key,
      plain: this.gather(items, total),
      lengths: items.map((i) => i.plain.length),
      aad: Buffer.concat(items.map((i) => i.aad)),
      aadLength,
    };
    const sealed = await new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const worker = this.start();
      worker.ref();
      // The plaintexts were just gathered into memory of their own: moved to the worker, not copied.
      worker.postMessage(request, [request.plain.buffer as ArrayBuffer]);
    });
    const out: Uint8Array[] = [];
    let at = 0;
    for (const item of items) {
      const n = item.plain.length + SEAL_OVERHEAD;
      out.push(sealed.subarray(at, at + n));
      at += n;
    }
    return out;
  }

  /**
   * The plaintexts back to back, in memory the worker handed back when it can hold them: a fresh
   * buffer of megabytes per transaction costs its page faults, and on a large heap a full GC
   * every 64 MiB of them (a 256 MiB file written through atefs made 37).
   */
  private gather(items: readonly SealItem[], total: number): Uint8Array {
    const i = this.spares.findIndex((b) => b.byteLength >= total);
    const out = i === -1 ? new Uint8Array(total) : new Uint8Array(this.spares.splice(i, 1)[0]!, 0, total);
    let at = 0;
    for (const item of items) {
      out.set(item.plain, at);
      at += item.plain.length;
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    for (const p of this.pending.values()) p.reject(new ClosedError('the seal pool was closed'));
    this.pending.clear();
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // No inherited flags: some (--input-type, --expose-gc) make node refuse to start the worker.
    const worker = new Worker(WORKER_URL, { execArgv: [] });
    worker.on('message', (reply: SealReply) => {
      if (this.spares.length < MAX_SPARES && reply.spare.byteLength <= MAX_SPARE_BYTES) this.spares.push(reply.spare);
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      p?.resolve(new Uint8Array(reply.sealed.buffer, reply.sealed.byteOffset, reply.sealed.byteLength));
    });
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.worker = undefined;
    });
    this.worker = worker;
    return worker;
  }
}

let shared: SealPool | undefined;

/** The process-wide pool. */
export function defaultSealPool(): SealPool {
  shared ??= new SealPool();
  return shared;
}
