// The worker thread of SealPool: AES-256-GCM seals for large transactions, off the main thread.
import { parentPort } from 'node:worker_threads';
import { SEAL_OVERHEAD, type SymmetricKey, sealInto } from './aead.js';

export interface SealRequest {
  readonly id: number;
  readonly key: Uint8Array;
  /** Plaintexts back to back; `lengths[i]` bytes each. */
  readonly plain: Uint8Array;
  readonly lengths: readonly number[];
  /** Additional data of every item, `aadLength` bytes each, back to back. */
  readonly aad: Uint8Array;
  readonly aadLength: number;
}

export interface SealReply {
  readonly id: number;
  /** Sealed items back to back; item i is lengths[i] + SEAL_OVERHEAD bytes. */
  readonly sealed: Uint8Array;
  /** The request's plaintext memory, handed back for the next request. */
  readonly spare: ArrayBuffer;
}

const port = parentPort;
if (!port) throw new Error('seal-worker.js runs only as a worker thread');
port.on('message', (req: SealRequest) => {
  const key = req.key as SymmetricKey;
  // Its own ArrayBuffer (not node's shared pool), so that it can be transferred.
  const sealed = new Uint8Array(req.plain.length + req.lengths.length * SEAL_OVERHEAD);
  let from = 0;
  let to = 0;
  req.lengths.forEach((n, i) => {
    sealInto(key, req.plain.subarray(from, from + n), req.aad.subarray(i * req.aadLength, (i + 1) * req.aadLength), sealed, to);
    from += n;
    to += n + SEAL_OVERHEAD;
  });
  const spare = req.plain.buffer as ArrayBuffer;
  const reply: SealReply = { id: req.id, sealed, spare };
  port.postMessage(reply, [sealed.buffer as ArrayBuffer, spare]);
});
