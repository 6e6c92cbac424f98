// The encryption of one direction of a connection: AES-GCM with the frame counter as the nonce
// (docs/FORMAT.md "Frames"). Both ends count, so nonces are never sent and never repeat.
import { gcmOpen, gcmSeal } from '../../crypto/index.js';
import { WireError } from '../../errors.js';
import { FRAME_HEADER_BYTES } from './frame.js';

export class FrameCipher {
  private counter = 0;
  private readonly nonce = Buffer.alloc(12);

  constructor(private readonly key: Uint8Array) {}

  /** The nonce of the next frame: the 96-bit big-endian counter (its top 32 bits stay 0). */
  private next(): Buffer {
    if (this.counter >= Number.MAX_SAFE_INTEGER) throw new WireError('this connection has sent too many frames; reconnect');
    this.nonce.writeUIntBE(Math.floor(this.counter / 2 ** 32), 4, 4);
    this.nonce.writeUInt32BE(this.counter % 2 ** 32, 8);
    this.counter++;
    return this.nonce;
  }

  /** A whole frame: room for its header, then ciphertext ‖ tag. */
  sealFrame(plaintext: Uint8Array): Buffer {
    return gcmSeal(this.key, this.next(), plaintext, FRAME_HEADER_BYTES);
  }

  /** The plaintext of the next received payload; DecryptError if it was not sealed by the peer as the next frame. */
  open(payload: Uint8Array): Buffer {
    return gcmOpen(this.key, this.next(), payload);
  }
}
