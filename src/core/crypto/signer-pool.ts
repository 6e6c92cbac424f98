// Signing off the event loop. An ML-DSA-65 sign takes 5-12 ms and a verify 1.4-2.3 ms; on the main
// thread that would stall FUSE requests and network traffic, so they run in worker threads.
import { Worker } from 'node:worker_threads';
import { AteError, ClosedError, ConfigError } from '../errors.js';
import type { PrivateSignKey, PublicSignKey } from './sign.js';
import type { WorkerReply, WorkerRequest } from './signer-worker.js';

const WORKER_URL = new URL('./signer-worker.js', import.meta.url);

interface Pending {
  resolve(value: Uint8Array | boolean): void;
  reject(err: Error): void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  /** Refs of the keys this worker has learnt. */
  readonly known: Set<number>;
}

export interface SignerPoolOptions {
  /** Worker threads, started on demand (default 1). */
  readonly workers?: number;
}

export class SignerPool {
  readonly #size: number;
  readonly #slots: Slot[] = [];
  #closed = false;
  #nextJob = 1;
  #nextRef = 1;
  // Keys are named by a number per pool; when a key object is collected its workers drop it.
  readonly #refs = new WeakMap<object, number>();
  readonly #collected = new FinalizationRegistry<number>((ref) => this.#forget(ref));

  constructor(options: SignerPoolOptions = {}) {
    const size = options.workers ?? 1;
    if (!Number.isInteger(size) || size < 1) throw new ConfigError(`SignerPool workers must be a positive integer, got ${size}`);
    this.#size = size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  signAsync(key: PrivateSignKey, message: Uint8Array): Promise<Uint8Array> {
    return this.#run(key, (id, ref) => ({ op: 'sign', id, ref, message })) as Promise<Uint8Array>;
  }

  verifyAsync(pub: PublicSignKey, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return this.#run(pub, (id, ref) => ({ op: 'verify', id, ref, message, signature })) as Promise<boolean>;
  }

  /** Stops the workers; jobs still running reject with ClosedError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const slots = this.#slots.splice(0);
    for (const slot of slots) this.#fail(slot, new ClosedError('the signer pool was closed'));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  #run(key: PrivateSignKey | PublicSignKey, job: (id: number, ref: number) => WorkerRequest): Promise<Uint8Array | boolean> {
    // Inside the executor, so that anything thrown (a worker that cannot start) becomes a rejection.
    return new Promise((resolve, reject) => {
      if (this.#closed) throw new ClosedError('the signer pool was closed');
      const slot = this.#pick();
      const ref = this.#refOf(key);
      if (!slot.known.has(ref)) {
        // Ports deliver in order, so the key is known by the time the job that follows is read.
        slot.worker.postMessage({ op: 'learn', ref, key } satisfies WorkerRequest);
        slot.known.add(ref);
      }
      const id = this.#nextJob++;
      // A busy worker keeps the process alive until the answer arrives; an idle one never does.
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(job(id, ref));
    });
  }

  /** The least busy worker, starting a new one while the busiest count is below the pool size. */
  #pick(): Slot {
    let best: Slot | undefined;
    for (const slot of this.#slots) if (!best || slot.pending.size < best.pending.size) best = slot;
    if (best && (best.pending.size === 0 || this.#slots.length >= this.#size)) return best;
    return this.#start();
  }

  #start(): Slot {
    const worker = new Worker(WORKER_URL, { execArgv: [] });
    // No inherited flags: some (--input-type, --expose-gc) make node refuse to start the worker.
    worker.unref();
    const slot: Slot = { worker, pending: new Map(), known: new Set() };
    worker.on('message', (reply: WorkerReply) => this.#settle(slot, reply));
    worker.on('error', (err) => this.#drop(slot, err));
    worker.on('exit', (code) => this.#drop(slot, new ClosedError(`a signer worker stopped (exit code ${code})`)));
    this.#slots.push(slot);
    return slot;
  }

  #settle(slot: Slot, reply: WorkerReply): void {
    const p = slot.pending.get(reply.id);
    if (!p) return;
    slot.pending.delete(reply.id);
    if (slot.pending.size === 0) slot.worker.unref();
    if (reply.ok) p.resolve(reply.value);
    else p.reject(new AteError(`signing failed: ${reply.error}`));
  }

  /** A worker that crashed or exited: fail its jobs and start afresh on the next one. */
  #drop(slot: Slot, err: Error): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    this.#fail(slot, err);
  }

  #fail(slot: Slot, err: Error): void {
    for (const p of slot.pending.values()) p.reject(err);
    slot.pending.clear();
    slot.worker.unref();
  }

  #refOf(key: object): number {
    let ref = this.#refs.get(key);
    if (ref === undefined) {
      ref = this.#nextRef++;
      this.#refs.set(key, ref);
      this.#collected.register(key, ref);
    }
    return ref;
  }

  #forget(ref: number): void {
    for (const slot of this.#slots) {
      if (slot.known.delete(ref)) slot.worker.postMessage({ op: 'forget', ref } satisfies WorkerRequest);
    }
  }
}

let shared: SignerPool | undefined;

/** The process-wide pool (one worker), created on first use; a new one replaces it once closed. */
export function defaultSignerPool(): SignerPool {
  if (!shared || shared.closed) shared = new SignerPool();
  return shared;
}
