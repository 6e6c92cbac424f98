// Built-in data transformers.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Transformer } from './plugins.js';

/** Compresses data before it is encrypted (the smallest-size profile). */
export const deflateTransformer: Transformer = {
  name: 'deflate',
  encode: (data) => deflateRawSync(data),
  decode: (data) => inflateRawSync(data),
};
