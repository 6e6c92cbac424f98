// Compaction: drops history that no longer matters, keeping every live object, what it depends
// on, and the proofs that verify it.
import { removeDuplicatesCompactor } from './remove-duplicates.js';
import { signatureCompactor } from './signature.js';
import { tombstoneCompactor } from './tombstone.js';
import type { Compactor } from './types.js';

export * from './types.js';
export { compactChain } from './compact.js';
export { cutOffCompactor } from './cut-off.js';
export { CompactionScheduler, type SchedulerHost, type SchedulerOptions } from './scheduler.js';
export { removeDuplicatesCompactor, signatureCompactor, tombstoneCompactor };

/** The compactors every profile but raw gets, as in the reference. */
export const defaultCompactors: readonly Compactor[] = [removeDuplicatesCompactor, tombstoneCompactor, signatureCompactor];
