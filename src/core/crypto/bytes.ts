// Byte helpers shared by the crypto modules (internal: not re-exported from index.ts).

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (labels, contexts). */
export const utf8 = (s: string): Uint8Array => encoder.encode(s);

/**
 * A plain Uint8Array over a Buffer's bytes, without copying. node:crypto returns Buffers; the crypto
 * API returns plain Uint8Arrays (like noble) so that results compare equal whatever made them.
 */
export const plain = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** A Buffer view over bytes, without copying (for Buffer-only methods such as toString). */
export const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
