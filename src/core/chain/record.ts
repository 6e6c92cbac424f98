// How a chain stores an event in its redo log: the 32-byte event id, then the event's bytes.
// With the id stored, reopening a sealed log (written by this node, see the log's seal) needs
// no hash per event: the seal vouches for the ids. Unsealed records get their id recomputed.
import { type EventId, eventIdFromHash } from '../event/ids.js';
import { decodeEvent, encodeEvent, type DecodedEvent } from '../event/encoding.js';
import type { Metadata } from '../event/metadata.js';
import { DecodeError } from '../errors.js';
import { hashEvent } from './hash-event.js';
import type { IngestEvent } from './plugins.js';

export const RECORD_ID_BYTES = 32;

/** An event with its log record (id ‖ event bytes); `bytes` is a view into `record`. */
export class RecordedEvent implements IngestEvent {
  private hex: EventId | undefined;

  constructor(
    readonly idBytes: Buffer,
    readonly bytes: Uint8Array,
    readonly meta: Metadata,
    readonly data: Uint8Array | undefined,
    readonly record: Uint8Array,
  ) {}

  /** As hex, made on first use: replaying a sealed log never needs it. */
  get id(): EventId {
    return (this.hex ??= eventIdFromHash(this.idBytes));
  }
}

function fromRecord(record: Buffer, decoded: DecodedEvent, idBytes: Buffer): RecordedEvent {
  return new RecordedEvent(idBytes, record.subarray(RECORD_ID_BYTES), decoded.meta, decoded.data, record);
}

/** Builds a new event and its record in one buffer (no copy of the data after encoding). */
export function recordNew(meta: Metadata, data?: Uint8Array): RecordedEvent {
  const record = encodeEvent(meta, data, RECORD_ID_BYTES);
  const bytes = record.subarray(RECORD_ID_BYTES);
  const idBytes = hashEvent(bytes);
  idBytes.copy(record, 0);
  const dataStart = bytes.length - (data?.length ?? 0);
  return new RecordedEvent(idBytes, bytes, meta, data === undefined ? undefined : bytes.subarray(dataStart), record);
}

/** Event bytes from elsewhere (a peer, a compaction): decoded, hashed, put into a record. */
export function recordOf(bytes: Uint8Array): RecordedEvent {
  const record = Buffer.allocUnsafe(RECORD_ID_BYTES + bytes.length);
  record.set(bytes, RECORD_ID_BYTES);
  const decoded = decodeEvent(record.subarray(RECORD_ID_BYTES));
  const idBytes = hashEvent(record.subarray(RECORD_ID_BYTES));
  idBytes.copy(record, 0);
  return fromRecord(record, decoded, idBytes);
}

/**
 * A record read back from the log. `trusted` (sealed by this node) takes the stored id as is;
 * otherwise the id is recomputed, and a stored id that differs means the record was altered.
 */
export function readRecord(raw: Uint8Array, trusted: boolean): RecordedEvent {
  if (raw.length < RECORD_ID_BYTES) throw new DecodeError(`a log record of ${raw.length} bytes is too short to hold an event`);
  const record = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const decoded = decodeEvent(record.subarray(RECORD_ID_BYTES));
  const stored = record.subarray(0, RECORD_ID_BYTES);
  if (trusted) return fromRecord(record, decoded, stored);
  const idBytes = hashEvent(record.subarray(RECORD_ID_BYTES));
  if (!idBytes.equals(stored)) throw new DecodeError('the stored event id does not match the event: the record was altered');
  return fromRecord(record, decoded, idBytes);
}

/** The event inside a record read by position (data reads are covered by the log's checksum). */
export function eventOfRecord(raw: Uint8Array): DecodedEvent {
  return decodeEvent(raw.subarray(RECORD_ID_BYTES));
}
