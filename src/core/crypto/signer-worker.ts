// The worker thread of SignerPool: signs and verifies off the main event loop. Keys arrive once
// ('learn') and are then named by a number, so a 4 KiB secret key is not copied with every job.
import { parentPort } from 'node:worker_threads';
import { type PrivateSignKey, type PublicSignKey, sign, verify } from './sign.js';

export type WorkerRequest =
  | { readonly op: 'learn'; readonly ref: number; readonly key: PrivateSignKey | PublicSignKey }
  | { readonly op: 'forget'; readonly ref: number }
  | { readonly op: 'sign'; readonly id: number; readonly ref: number; readonly message: Uint8Array }
  | { readonly op: 'verify'; readonly id: number; readonly ref: number; readonly message: Uint8Array; readonly signature: Uint8Array };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly value: Uint8Array | boolean }
  | { readonly id: number; readonly ok: false; readonly error: string };

const keys = new Map<number, PrivateSignKey | PublicSignKey>();

type Job = Extract<WorkerRequest, { op: 'sign' | 'verify' }>;

function run(req: Job): Uint8Array | boolean {
  const key = keys.get(req.ref);
  if (!key) throw new Error(`signer worker: unknown key ${req.ref}`);
  if (req.op === 'sign') return sign(key as PrivateSignKey, req.message);
  return verify(key as PublicSignKey, req.message, req.signature);
}

const port = parentPort;
if (!port) throw new Error('signer-worker.js runs only as a worker thread');
port.on('message', (req: WorkerRequest) => {
  if (req.op === 'learn') keys.set(req.ref, req.key);
  else if (req.op === 'forget') keys.delete(req.ref);
  else {
    let reply: WorkerReply;
    try {
      reply = { id: req.id, ok: true, value: run(req) };
    } catch (err) {
      reply = { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  }
});
