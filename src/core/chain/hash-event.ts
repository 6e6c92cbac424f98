import { createHash } from 'node:crypto';

/** An event's id bytes: SHA-256 of its stored bytes. */
export function hashEvent(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}
