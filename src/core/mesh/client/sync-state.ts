// What a local replica knows about its home server, kept beside the replica's log
// (docs/FORMAT.md "Positions, epochs and resuming"): where to resume the stream, which local
// events may not be on the server yet, and the chain's root keys and integrity for opening offline.
import type { IntegrityMode } from '../../chain/config.js';
import { ConfigError } from '../../errors.js';
import { readTextIfPresent, writeFileAtomic } from '../../files.js';

export interface SyncState {
  /** The server's copy of the log this position belongs to. */
  epoch: string;
  /** The next server position to stream from. */
  next: number;
  /** Every local event before this ordinal is known to be on the server. */
  mark: number;
  integrity: IntegrityMode;
  /** The chain's root keys as the server announced them (encodeKey, hex). */
  rootKeys: string[];
}

export async function loadSyncState(path: string): Promise<SyncState | undefined> {
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  try {
    const s = JSON.parse(text) as SyncState;
    if (typeof s.epoch !== 'string' || !Number.isInteger(s.next) || !Number.isInteger(s.mark) || !Array.isArray(s.rootKeys)) throw new Error('bad shape');
    return s;
  } catch {
    throw new ConfigError(`${path} is not a replica sync state; delete it to resynchronize the replica from the server`);
  }
}

/** Replaced whole, so a crash leaves the old state or the new one. */
export async function saveSyncState(path: string, state: SyncState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(state));
}

/** Saves are this far apart at least: a stale state only repeats some uploads and some stream. */
const SAVE_INTERVAL_MS = 1000;

/**
 * Saves the latest state, one save at a time and at most one per SAVE_INTERVAL_MS (a commit
 * confirmed every millisecond must not cost a file write and a rename each): saves asked for in
 * between are folded into the next one. flush() saves at once what is waiting.
 */
export class StateSaver {
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wanted = false;
  private lastStart = -Infinity;

  constructor(
    private readonly path: string | undefined,
    private readonly current: () => SyncState | undefined,
    /**
     * Makes the replica durable up to what the state taken before it claims. A state saved ahead
     * of its log would, after a power loss, skip events the log lost: never streamed again
     * (`next`) or never uploaded (`mark`, counted in ordinals that new events then reuse).
     */
    private readonly durable: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  save(): void {
    if (!this.path) return;
    this.wanted = true;
    if (this.running || this.timer) return;
    this.timer = setTimeout(() => this.run(), Math.max(0, this.lastStart + SAVE_INTERVAL_MS - Date.now()));
    this.timer.unref();
  }

  /** Saves what is waiting now, and waits for every save in flight. */
  async flush(): Promise<void> {
    while (this.running || this.timer) {
      if (this.timer) this.run();
      await this.running;
    }
  }

  private run(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.wanted = false;
    this.lastStart = Date.now();
    const s = this.current();
    const saving = s ? this.durable().then(() => saveSyncState(this.path!, s)) : Promise.resolve();
    this.running = saving.catch(this.onError).then(() => {
      this.running = undefined;
      if (this.wanted) this.save();
    });
  }
}
