// Checked open options: every mistake is a ConfigError naming the option.
import { ConfigError } from '../errors.js';
import type { OpenLogOptions } from './types.js';

export const DEFAULT_SEGMENT_BYTES = 256 * 1024 * 1024;

export interface LogConfig {
  readonly chainKey: string;
  /** The chain key as stored in headers. */
  readonly chainKeyBytes: Buffer;
  readonly sealKey: Uint8Array | undefined;
  readonly segmentBytes: number;
  readonly cutOff: number;
}

export function checkCutOff(cutOff: number): number {
  if (!Number.isSafeInteger(cutOff) || cutOff < 0) throw new ConfigError(`cutOff must be ms since the epoch, not ${cutOff}`);
  return cutOff;
}

export function logConfig(opts: OpenLogOptions): LogConfig {
  const chainKeyBytes = Buffer.from(opts.chainKey, 'utf8');
  if (chainKeyBytes.length > 0xffff) throw new ConfigError('the chain key is longer than 65535 bytes');
  if (opts.sealKey !== undefined && opts.sealKey.length !== 32) {
    throw new ConfigError(`sealKey must be 32 bytes, not ${opts.sealKey.length}`);
  }
  const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= 0) {
    throw new ConfigError(`segmentBytes must be a positive number of bytes, not ${segmentBytes}`);
  }
  return { chainKey: opts.chainKey, chainKeyBytes, sealKey: opts.sealKey, segmentBytes, cutOff: checkCutOff(opts.cutOff ?? 0) };
}
