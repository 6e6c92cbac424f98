// Where each record goes: positions, seals and rotations follow from the sizes alone, so append()
// can answer synchronously and a compaction can lay out its generation before writing it.
import { MAX_SEQ, RECORD_OVERHEAD, SEAL_RECORD } from './format.js';
import { AteError } from '../errors.js';

/** A writer with a seal key seals at least this often (docs/FORMAT.md, "Seal"). */
export const SEAL_EVERY = 4 * 1024 * 1024;

export interface LayoutRules {
  readonly headerLength: number;
  readonly segmentBytes: number;
  readonly sealing: boolean;
}

export interface LayoutState {
  seq: number;
  /** Where the next record goes in segment `seq`. */
  offset: number;
  /** Events and their record bytes in the generation. */
  count: number;
  bytes: number;
  /** Event bytes and events since the last seal. */
  sinceSeal: number;
  unsealed: number;
}

/** Receives what the layout decides, in order. */
export interface LayoutSink {
  event(seq: number, offset: number, event: Uint8Array): void;
  seal(seq: number, offset: number, count: number): void;
  segment(seq: number, countBefore: number, bytesBefore: number): void;
}

export class Layout {
  constructor(
    private readonly rules: LayoutRules,
    readonly state: LayoutState,
  ) {}

  static fresh(rules: LayoutRules): Layout {
    return new Layout(rules, { seq: 0, offset: rules.headerLength, count: 0, bytes: 0, sinceSeal: 0, unsealed: 0 });
  }

  /** Places an event; returns its segment and offset. */
  event(event: Uint8Array, sink: LayoutSink): { seq: number; offset: number } {
    const s = this.state;
    const size = event.length + RECORD_OVERHEAD;
    if (s.offset > this.rules.headerLength && s.offset + size > this.rules.segmentBytes) this.rotate(sink);
    const at = { seq: s.seq, offset: s.offset };
    sink.event(s.seq, s.offset, event);
    s.offset += size;
    s.count++;
    s.bytes += size;
    s.sinceSeal += size;
    s.unsealed++;
    if (this.rules.sealing && s.sinceSeal >= SEAL_EVERY) this.seal(sink);
    return at;
  }

  /** Places a seal if any event is not yet covered by one. */
  seal(sink: LayoutSink): void {
    const s = this.state;
    if (!this.rules.sealing || s.unsealed === 0) return;
    sink.seal(s.seq, s.offset, s.count);
    s.offset += SEAL_RECORD;
    s.sinceSeal = 0;
    s.unsealed = 0;
  }

  /** Seals, then starts the next segment. */
  rotate(sink: LayoutSink): void {
    const s = this.state;
    if (s.seq >= MAX_SEQ) throw new AteError(`the redo log has reached ${MAX_SEQ + 1} segments; compact it`);
    this.seal(sink);
    s.seq++;
    s.offset = this.rules.headerLength;
    sink.segment(s.seq, s.count, s.bytes);
  }
}
