import type { EventId } from './ids.js';
import type { KeyId, SignatureItem } from './metadata.js';

/** A signature item over ids given as bytes; the hex ids are made only if someone asks. */
export function signatureItem(signer: KeyId, eventBytes: Uint8Array, signature: Uint8Array): SignatureItem {
  let events: EventId[] | undefined;
  return {
    signer,
    eventBytes,
    signature,
    get events(): EventId[] {
      if (!events) {
        events = [];
        const b = Buffer.from(eventBytes.buffer, eventBytes.byteOffset, eventBytes.byteLength);
        for (let i = 0; i < b.length; i += 32) events.push(b.toString('hex', i, i + 32) as EventId);
      }
      return events;
    },
  };
}
