// Failed logins per account: after a few failures in a row the account refuses every attempt
// (right password included) for a while that doubles with each further failure, so that an
// online guesser gets a handful of tries per hour. Unknown accounts count like real ones, so
// the limiter tells nothing about which emails exist. Kept in memory: a restart forgives.

export interface LimiterOptions {
  /** Failures in a row allowed before a lock. */
  readonly freeFailures: number;
  readonly firstLockMs: number;
  readonly maxLockMs: number;
  /** Failures older than this are forgotten. */
  readonly forgetAfterMs: number;
}

export const DEFAULT_LIMITS: LimiterOptions = { freeFailures: 5, firstLockMs: 30_000, maxLockMs: 15 * 60_000, forgetAfterMs: 3_600_000 };

interface Entry {
  failures: number;
  last: number;
  lockedUntil: number;
}

const MAX_ENTRIES = 100_000;

export class LoginLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: LimiterOptions = DEFAULT_LIMITS) {}

  /** Ms the account must still wait, or 0 if it may try now. */
  waitFor(account: string, now = Date.now()): number {
    const e = this.entries.get(account);
    if (!e) return 0;
    if (now - e.last > this.opts.forgetAfterMs) {
      this.entries.delete(account);
      return 0;
    }
    return Math.max(0, e.lockedUntil - now);
  }

  failed(account: string, now = Date.now()): void {
    let e = this.entries.get(account);
    if (!e || now - e.last > this.opts.forgetAfterMs) e = { failures: 0, last: now, lockedUntil: 0 };
    e.failures++;
    e.last = now;
    const over = e.failures - this.opts.freeFailures;
    if (over >= 0) e.lockedUntil = now + Math.min(this.opts.maxLockMs, this.opts.firstLockMs * 2 ** Math.min(over, 30));
    this.entries.delete(account); // re-inserted last: the map stays in order of last failure
    this.entries.set(account, e);
    if (this.entries.size > MAX_ENTRIES) this.prune(now);
  }

  succeeded(account: string): void {
    this.entries.delete(account);
  }

  private prune(now: number): void {
    for (const [account, e] of this.entries) {
      if (this.entries.size <= MAX_ENTRIES / 2 && now - e.last <= this.opts.forgetAfterMs) break;
      this.entries.delete(account);
    }
  }
}
