// Time travel for atefs: `mount --at` opens the vault's chain read-only as it was at a time or
// right after an event, and `atefs log` reads its history. Both need the vault unmounted for now:
// a chain's log is open in one process at a time.
import type { ChainBuilder } from '../../core/chain/builder.js';
import type { Chain, TimeTravel } from '../../core/chain/chain.js';
import { type EventId, eventIdOf } from '../../core/event/index.js';
import { ConfigError, LockError } from '../../core/errors.js';
import { firstEventTime } from '../../fs/history.js';
import { ANCHOR_KEY } from '../../fs/model.js';
import { CliError, UsageError } from '../run.js';
import type { AtSpec } from './options.js';
import { shown } from './paths.js';
import { CHAIN_NAME } from './vault.js';

/** A full replay that stays read-only: the whole history, nothing written. */
export const EVERYTHING: TimeTravel = { time: Number.MAX_SAFE_INTEGER };

export const iso = (ms: number): string => new Date(ms).toISOString();

/** Rewords the lock errors of a vault in use: time travel cannot share it with a mount yet. */
export function needsUnmounted(err: unknown, what: string): unknown {
  if (err instanceof LockError || err instanceof CliError) {
    if (/in use by atefs|open in another process/.test(err.message)) {
      return new CliError(`${err.message.replace(/; close that process first$/, '; unmount it or stop that process first')} (${what} needs the vault unmounted for now)`, 1, {
        cause: err,
      });
    }
  }
  return err;
}

export interface PastChain {
  readonly chain: Chain;
  /** The moment shown: the time asked for, or the time of the event. */
  readonly time: number;
  close(): Promise<void>;
}

/**
 * Opens the vault's chain as it was at `at`, read-only. `mountPoint` names the vault in messages.
 * Refuses a moment before the filesystem existed, and an event that is not in the history.
 */
export async function openPast(builder: ChainBuilder, at: AtSpec, mountPoint: string): Promise<PastChain> {
  const chains: Chain[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of chains.reverse()) await c.close().catch(() => undefined);
  };
  const notInHistory = (id: string, more = ''): CliError =>
    new CliError(`event ${id} is not in the history of the vault at ${shown(mountPoint)}${more}; atefs log ${shown(mountPoint)} lists its events`);
  try {
    let chain: Chain;
    let time: number;
    if (at.kind === 'time') {
      chain = await builder.openAt(CHAIN_NAME, { time: at.time });
      chains.push(chain);
      time = at.time;
    } else {
      if (at.id.length === 64) {
        try {
          chain = await builder.openAt(CHAIN_NAME, { eventId: at.id as EventId });
        } catch (err) {
          if (err instanceof ConfigError && /is not in the history/.test(err.message)) throw notInHistory(at.id);
          throw err;
        }
        chains.push(chain);
      } else {
        // A prefix, as atefs log prints it: find the one event it names.
        const full = await builder.openAt(CHAIN_NAME, EVERYTHING);
        chains.push(full);
        const matches: string[] = [];
        for await (const bytes of full.history()) {
          const id = eventIdOf(bytes) as string;
          if (id.startsWith(at.id)) matches.push(id);
        }
        if (matches.length === 0) throw notInHistory(at.id, ' (no event id starts with these digits)');
        if (matches.length > 1) throw new UsageError(`${matches.length} events of the vault at ${shown(mountPoint)} have ids that start with ${at.id}; give more digits`);
        chain = await full.at({ eventId: matches[0]! as EventId });
        chains.push(chain);
      }
      time = await lastEventTime(chain);
    }
    if (!chain.view.objects.has(ANCHOR_KEY)) {
      const everything = await chain.at(EVERYTHING);
      chains.push(everything);
      const first = everything.view.objects.has(ANCHOR_KEY) ? await firstEventTime(everything) : undefined;
      throw new CliError(
        first === undefined
          ? `the vault at ${shown(mountPoint)} holds no filesystem yet: there is nothing to travel back to`
          : `the vault at ${shown(mountPoint)} did not exist yet at ${iso(time)}; its history starts at ${iso(first)}`,
      );
    }
    return { chain, time, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The time of the last timestamped event of a chain (the one time travel stopped after). */
async function lastEventTime(chain: Chain): Promise<number> {
  for (let i = chain.count - 1; i >= 0; i--) {
    const t = (await chain.readEvent(i)).meta.timestamp;
    if (t !== undefined) return t;
  }
  return 0;
}
