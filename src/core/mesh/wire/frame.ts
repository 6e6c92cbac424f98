// Frames: u32 big-endian payload length ‖ payload (docs/FORMAT.md "Frames").
import { WireError } from '../../errors.js';

/** The largest payload a frame may carry: 8 MiB. */
export const MAX_FRAME = 8 * 1024 * 1024;
export const FRAME_HEADER_BYTES = 4;

/** One frame: header and payload in one buffer. */
export function encodeFrame(payload: Uint8Array): Buffer {
  checkLength(payload.length);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** Writes the header into the first 4 bytes of a buffer whose payload follows them. */
export function writeFrameHeader(frame: Buffer): Buffer {
  const length = frame.length - FRAME_HEADER_BYTES;
  checkLength(length);
  frame.writeUInt32BE(length, 0);
  return frame;
}

function checkLength(length: number): void {
  if (length > MAX_FRAME) throw new WireError(`a frame of ${length} bytes is over the ${MAX_FRAME}-byte limit`);
}

/**
 * Cuts a byte stream (socket chunks of any size) into payloads. Chunks are kept as they come and
 * joined only when a frame spans several, so a large frame costs one copy, not one per chunk.
 */
export class FrameDecoder {
  /** The largest frame accepted now (a handshake accepts only small ones, then raises it). */
  maxFrame: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the frame being collected, once its header is in. */
  private expected = -1;
  private failed = false;

  constructor(maxFrame = MAX_FRAME) {
    this.maxFrame = maxFrame;
  }

  /** Bytes received but not yet returned as a payload. */
  get pending(): number {
    return this.buffered;
  }

  /** Takes one chunk; returns the payloads it completes, in order. WireError on an oversized length (then on every call). */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw new WireError('the byte stream was already refused');
    if (chunk.length > 0) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.buffered += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (length > this.maxFrame) {
          this.failed = true;
          this.chunks = [];
          this.buffered = 0;
          throw new WireError(`a frame of ${length} bytes is over the ${this.maxFrame}-byte limit`);
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      out.push(this.take(this.expected));
      this.expected = -1;
    }
    return out;
  }

  /** The next n buffered bytes (n <= buffered), a view when they lie in one chunk. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first!.length > n) {
      this.chunks[0] = first!.subarray(n);
      return first!.subarray(0, n);
    }
    if (first!.length === n) {
      this.chunks.shift();
      return first!;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const part = Math.min(c.length, n - at);
      c.copy(out, at, 0, part);
      at += part;
      if (part === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part);
    }
    return out;
  }
}
