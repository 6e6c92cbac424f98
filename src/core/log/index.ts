// The redo log: append-only segment files (or their in-memory twin) holding a chain's events.
// Format: docs/FORMAT.md, "Redo log".
export type { LogHeader, LogPosition, LogStats, OpenLogOptions, RedoLog, ReplayBatch, ReplayOptions, SegmentNo } from './types.js';
export { openFileLog, openMemoryLog } from './open.js';
