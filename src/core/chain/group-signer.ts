// Group signing: every event written here that needs a signature joins the open group of its
// key; one signature per key covers the whole group. A signature costs 5-15 ms of CPU, so it
// runs in a worker, the next group gathers while the current one is being signed, and groups
// start at most once per `intervalMs` and, up to a quarter second, at most once per ten times the
// last signing took: under a steady stream of commits signing takes about a tenth of a core, and
// groups grow instead (a 10 ms ML-DSA signature every 25 ms is 40% of a core for each writing process).
// A backlog larger than one group is signed without that pause.
import { type PrivateSignKey, type PublicSignKey, type SignerPool, publicSignKey } from '../crypto/index.js';
import type { KeyId, Metadata, SignatureItem } from '../event/metadata.js';
import { signKeyId } from '../trust/keyring.js';
import { signatureItem, signedMessageOfBytes } from '../trust/signatures.js';

/** Most events one signature covers; bounds the proof event's size (32 bytes per event). */
const MAX_GROUP = 32_768;
/** The share of a core signing may take: the next group waits this many times the last one's signing time... */
const SIGNING_BACKOFF = 10;
/** ...but no longer than this: what other nodes receive waits for its signature (remote changes show late). */
const MAX_BACKOFF_MS = 250;

export class GroupSigner {
  /** Per key, the ids (32 bytes each) of the events waiting for its signature. */
  private open = new Map<KeyId, { key: PrivateSignKey; events: Uint8Array[] }>();
  private running: Promise<void> | undefined;

  private lastStart = 0;
  /** How long the last group took to sign, wall time (longer on a loaded machine, which backs off more). */
  private lastSpent = 0;
  /** Ends the wait before the next group early. */
  private wake: (() => void) | undefined;
  /**
   * Per key, events added and events signed so far. A key's events are signed in the order they
   * were added (a group over MAX_GROUP leaves its newest for the next round), so the signed count
   * tells which of them are done.
   */
  private added = new Map<KeyId, number>();
  private signed = new Map<KeyId, number>();
  private roundWaiters: (() => void)[] = [];

  constructor(
    private readonly pool: SignerPool,
    private readonly emit: (meta: Metadata) => void,
    /** Whether the chain's events already carry this key's public half. */
    private readonly known: (id: KeyId) => boolean,
    private readonly intervalMs: number,
    private readonly failed: (err: unknown) => void,
  ) {}

  add(key: PrivateSignKey, event: Uint8Array): void {
    const id = signKeyId(key);
    let group = this.open.get(id);
    if (!group) this.open.set(id, (group = { key, events: [] }));
    group.events.push(event);
    this.added.set(id, (this.added.get(id) ?? 0) + 1);
    this.running ??= this.run();
  }

  /**
   * Resolves when every event added so far is signed and its proof emitted. Events added
   * later do not hold it up, so it returns under a steady stream of writes too.
   */
  async idle(): Promise<void> {
    const targets = [...this.added];
    const pending = (): boolean => targets.some(([id, n]) => (this.signed.get(id) ?? 0) < n);
    while (pending() && this.running) {
      // Someone waits for the signatures: a group that backs off for the CPU's sake starts now.
      this.wake?.();
      await this.nextRound();
    }
  }

  /** Resolves after the next group is emitted (or signing stops). */
  private nextRound(): Promise<void> {
    return new Promise((resolve) => this.roundWaiters.push(resolve));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    try {
      // Let the current tick's commits join the group before it closes.
      await new Promise((r) => setImmediate(r));
      let behind = false;
      while (this.open.size > 0) {
        // A backlog of more than a group signs at once: backing off would let it grow without end.
        const gap = behind ? 0 : Math.max(this.intervalMs, Math.min(this.lastSpent * SIGNING_BACKOFF, MAX_BACKOFF_MS));
        const wait = this.lastStart + gap - performance.now();
        if (wait > 0) await this.sleep(wait);
        this.lastStart = performance.now();
        const groups = [...this.open];
        this.open = new Map();
        behind = false;
        for (const [id, g] of groups) {
          if (g.events.length > MAX_GROUP) {
            this.open.set(id, { key: g.key, events: g.events.splice(MAX_GROUP) });
            behind = true;
          }
        }
        const signatures = await Promise.all(
          groups.map(async ([signer, g]): Promise<SignatureItem> => {
            const eventBytes = Buffer.concat(g.events);
            const signature = await this.pool.signAsync(g.key, signedMessageOfBytes(eventBytes));
            return signatureItem(signer, eventBytes, signature);
          }),
        );
        this.lastSpent = performance.now() - this.lastStart;
        const publicKeys: PublicSignKey[] = [];
        for (const [id, g] of groups) if (!this.known(id)) publicKeys.push(publicSignKey(g.key));
        this.emit(publicKeys.length > 0 ? { publicKeys, signatures } : { signatures });
        for (const [id, g] of groups) this.signed.set(id, (this.signed.get(id) ?? 0) + g.events.length);
        for (const w of this.roundWaiters.splice(0)) w();
      }
    } catch (err) {
      // The events stay unsigned in the chain; the next open signs them again.
      this.failed(err);
    } finally {
      this.running = undefined;
      for (const w of this.roundWaiters.splice(0)) w();
    }
  }
}
