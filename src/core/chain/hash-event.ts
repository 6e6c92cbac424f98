import { hash } from 'node:crypto';

/** An event's id bytes: SHA-256 of its stored bytes (one-shot: no hasher object per event). */
export function hashEvent(bytes: Uint8Array): Buffer {
  return hash('sha256', bytes, 'buffer');
}
