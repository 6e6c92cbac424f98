// The one source of randomness: node:crypto's CSPRNG.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { plain } from './bytes.js';

/** n bytes from the CSPRNG. */
export const randomBytes = (n: number): Uint8Array => plain(nodeRandomBytes(n));
