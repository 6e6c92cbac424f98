// Short-lived buffers cut from 64 KiB slabs. node's own pool has 8 KiB: with events of about a
// KiB it makes a new ArrayBuffer every few events, and on a busy heap that cost more than
// encoding them (profile of the append benchmark: 8% of the main thread). A buffer cut here keeps
// its whole slab alive, so use it only for bytes on their way somewhere (an event into the log,
// a plaintext to the cipher), never for bytes that a cache or an index keeps.
const SLAB_BYTES = 64 * 1024;
/** Larger requests get their own memory: they would waste a slab's tail. */
const MAX_CUT = 8 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/** `n` bytes of uninitialized memory: the caller writes every byte. */
export function cut(n: number): Buffer {
  if (n > MAX_CUT) return Buffer.allocUnsafeSlow(n);
  if (used + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const out = slab.subarray(used, used + n);
  used += (n + 7) & ~7; // 8-byte aligned starts
  return out;
}
