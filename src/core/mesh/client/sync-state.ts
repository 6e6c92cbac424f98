// What a local replica knows about its home server, kept beside the replica's log
// (docs/FORMAT.md "Positions, epochs and resuming"): where to resume the stream, which local
// events may not be on the server yet, and the chain's root keys and integrity for opening offline.
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { IntegrityMode } from '../../chain/config.js';
import { ConfigError } from '../../errors.js';

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
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const s = JSON.parse(text) as SyncState;
    if (typeof s.epoch !== 'string' || !Number.isInteger(s.next) || !Number.isInteger(s.mark) || !Array.isArray(s.rootKeys)) throw new Error('bad shape');
    return s;
  } catch {
    throw new ConfigError(`${path} is not a replica sync state; delete it to resynchronize the replica from the server`);
  }
}

/** Written to a temporary file and renamed, so a crash leaves the old state or the new one. */
export async function saveSyncState(path: string, state: SyncState): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * Saves the latest state at most once at a time: a save asked for while one runs is folded into
 * the next one.
 */
export class StateSaver {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly path: string | undefined,
    private readonly current: () => SyncState | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  save(): void {
    if (!this.path) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const run = this.loop();
    this.running = run;
    void run.then(() => {
      if (this.running === run) this.running = undefined;
    });
  }

  /** Waits for the saves in flight (and saves once more if asked). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const s = this.current();
      if (s) await saveSyncState(this.path!, s).catch(this.onError);
    } while (this.again);
  }
}
