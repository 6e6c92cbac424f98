// A chain with a home server: a local replica (its own redo log, or memory) kept in sync by a
// subscription, with local writes uploaded in order. One instance per chain and process; it
// reconnects with backoff and resumes the stream from where the replica ends
// (docs/FORMAT.md "Wire protocol").
import { join } from 'node:path';
import type { ChainBuilder } from '../../chain/builder.js';
import type { Chain, RemotePipe } from '../../chain/chain.js';
import type { IntegrityMode } from '../../chain/config.js';
import { type PublicSignKey, decodeKey, fromHex, toHex } from '../../crypto/index.js';
import { AteError, ConfigError, MeshError, ReadOnlyError } from '../../errors.js';
import type { ChainKey, EventId, PrimaryKey } from '../../event/ids.js';
import { homeOf, parseChainUrl, resolveServers, type ServerAddress } from '../routing.js';
import { type ClientMessage, type ServerMessage, type WireConnection, type WireEncryption, connect, hostPort } from '../wire/index.js';

type Connection = WireConnection<ServerMessage, ClientMessage>;
import { StateSaver, type SyncState, loadSyncState } from './sync-state.js';
import { Uploader } from './uploader.js';

/**
 * What happens while the server cannot be reached:
 * - async: opens from the local replica at once; writes go on offline and are uploaded later;
 * - readonly-async: opens from the local replica at once; read-only while disconnected;
 * - readonly-sync: opens only after catching up with the server; read-only while disconnected;
 * - sync: like readonly-sync, and every commit waits for the server's confirmation.
 */
export type RecoveryMode = 'async' | 'readonly-async' | 'readonly-sync' | 'sync';

export type MeshStatus = 'connecting' | 'synced' | 'disconnected';

export interface RemoteChainOptions {
  readonly recovery?: RecoveryMode;
  readonly encryption?: WireEncryption;
  /** Where server identities are pinned (default: $XDG_CONFIG_HOME/ate/known_servers). */
  readonly knownServersPath?: string;
  /** The server's expected identity fingerprint (instead of pinning on first use). */
  readonly fingerprint?: string;
  readonly connectTimeoutMs?: number;
  /** How long close() waits for the server to confirm the last uploads (default 10 s). */
  readonly closeTimeoutMs?: number;
  /** A token (text form) sent with every subscribe: an atedb with an auth server checks access by it. */
  readonly token?: string;
  readonly onStatus?: (status: MeshStatus, detail?: string) => void;
  readonly onWarning?: (message: string) => void;
}

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5000;

export class RemoteChain implements RemotePipe {
  private conn: Connection | undefined;
  private state: SyncState | undefined;
  private readonly saver: StateSaver;
  private uploader: Uploader | undefined;
  private chainOpen: Chain | undefined;
  private closing = false;
  private stopped: Error | undefined;
  private synced = false;
  /** Set while open() waits for the first sync: a failure then fails the open, not retried. */
  private waitingForFirstSync = false;
  private readonly syncWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  /** Ordinals of events received from the server at or after the mark (not to upload again). */
  private readonly fromServer = new Set<number>();
  private readonly lockWaiters = new Map<PrimaryKey, Array<(locked: boolean) => void>>();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private home: ServerAddress;
  readonly recovery: RecoveryMode;

  private constructor(
    private readonly builder: ChainBuilder,
    readonly key: ChainKey,
    private readonly servers: readonly ServerAddress[],
    private readonly statePath: string | undefined,
    private readonly opts: RemoteChainOptions,
  ) {
    this.recovery = opts.recovery ?? 'readonly-async';
    this.home = homeOf(key, servers);
    this.saver = new StateSaver(
      statePath,
      () => this.snapshot(),
      async () => this.chainOpen?.flush(true),
      (err) => this.warn(`cannot save the replica's sync state: ${(err as Error).message}`),
    );
  }

  /**
   * Opens the chain of `url` (tcp://host[:port][,host...]/<chain>) with its replica where
   * `builder` keeps logs. The builder's session writes; root keys and integrity come from the server.
   */
  static async open(builder: ChainBuilder, url: string, opts: RemoteChainOptions = {}): Promise<RemoteChain> {
    const { servers, chain } = parseChainUrl(url);
    // A token carries the user's private keys: it never travels in the clear.
    if (opts.token !== undefined && opts.encryption === 0) throw new ConfigError(`a token is never sent without wire encryption; drop --no-wire-encryption to open ${chain} with one`);
    const resolved = await resolveServers(servers);
    const logPath = builder.cfg.temporal ? undefined : builder.cfg.logPath;
    const statePath = logPath === undefined ? undefined : `${join(logPath, ...chain.slice(1).split('/'))}.sync`;
    const remote = new RemoteChain(builder, chain, resolved, statePath, opts);
    try {
      await remote.start();
    } catch (err) {
      await remote.close().catch(() => undefined);
      throw err;
    }
    return remote;
  }

  /** The local replica. */
  get chain(): Chain {
    if (!this.chainOpen) throw new AteError(`chain ${this.key} is not open`);
    return this.chainOpen;
  }

  get connected(): boolean {
    return this.conn !== undefined && this.synced;
  }

  /** Local events the server has not confirmed yet. */
  get pendingUploads(): number {
    return this.uploader?.pendingCount ?? 0;
  }

  get server(): ServerAddress {
    return this.home;
  }

  private get where(): string {
    return hostPort(this.home.host, this.home.port);
  }

  /** Resolves once the replica has caught up with the server (now, or after the next reconnect). */
  whenSynced(): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.stopped) return Promise.reject(this.stopped);
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  /** Resolves when every local write so far is confirmed by the server (connected or not). */
  async uploaded(): Promise<void> {
    const chain = this.chain;
    await chain.sync();
    const ordinals: number[] = [];
    for (let o = this.uploader!.mark; o < chain.count; o++) ordinals.push(o);
    await this.whenSynced();
    await this.uploader!.waitFor(ordinals, false);
  }

  // RemotePipe: what the chain and its transactions ask of the server.

  get confirmsEveryCommit(): boolean {
    return this.recovery === 'sync';
  }

  assertWritable(): void {
    if (this.connected || this.recovery === 'async') return;
    throw new ReadOnlyError(
      `chain ${this.key} is read-only while its server ${this.home.host}:${this.home.port} cannot be reached (recovery mode ${this.recovery}); wait for the connection, or use recovery mode async to write offline`,
    );
  }

  async confirm(ids: readonly EventId[]): Promise<void> {
    const chain = this.chain;
    const ordinals = ids.map((id) => chain.view.ids.indexOf(fromHex(id))).filter((o) => o !== -1);
    await this.uploader!.waitFor(ordinals, this.recovery === 'async');
  }

  lock(key: PrimaryKey): Promise<boolean> {
    const conn = this.conn;
    if (!conn || !this.synced) return Promise.resolve(this.recovery === 'async');
    return new Promise((resolve) => {
      let list = this.lockWaiters.get(key);
      if (!list) this.lockWaiters.set(key, (list = []));
      list.push(resolve);
      conn.send({ t: 'lock', key });
    });
  }

  unlock(key: PrimaryKey): void {
    this.conn?.send({ t: 'unlock', key });
  }

  /** Signs what is left, waits (a while) for the last uploads, saves the sync state and closes. */
  async close(): Promise<void> {
    if (this.closing) return this.loop;
    const chain = this.chainOpen;
    if (chain && this.connected && !this.stopped) {
      const wait = this.uploaded().catch(() => undefined);
      const timeout = new Promise<void>((r) => setTimeout(r, this.opts.closeTimeoutMs ?? 10_000).unref());
      await Promise.race([wait, timeout]);
    }
    this.closing = true;
    this.wake?.();
    this.conn?.close();
    await this.loop;
    await this.saver.flush();
    this.saver.save();
    await this.saver.flush();
    await this.builder.close();
  }

  private async start(): Promise<void> {
    this.state = this.statePath ? await loadSyncState(this.statePath) : undefined;
    const mustSync = !this.state || this.recovery === 'readonly-sync' || this.recovery === 'sync';
    if (this.state) await this.openReplica(this.state);
    this.waitingForFirstSync = mustSync;
    const firstSync = this.whenSynced();
    this.loop = this.run();
    if (!mustSync) {
      firstSync.catch(() => undefined);
      return;
    }
    await firstSync;
    this.waitingForFirstSync = false;
  }

  private async openReplica(state: SyncState): Promise<void> {
    for (const k of state.rootKeys) this.builder.addRootPublicKey(rootKeyOf(k));
    const chain = await this.builder.integrity(state.integrity).open(this.key);
    this.chainOpen = chain;
    const uploader = new Uploader(chain, () => this.saver.save(), (m) => this.warn(`the server refused a write to ${this.key}: ${m}`));
    this.uploader = uploader;
    // Whatever a previous run had not seen confirmed is sent again (the server skips what it holds).
    const leftovers: number[] = [];
    for (let o = state.mark; o < chain.count; o++) leftovers.push(o);
    uploader.restore(leftovers);
    chain.onEvent((event, ordinal, origin) => {
      if (origin === 'local') uploader.track(ordinal, event.bytes);
      // With nothing pending the mark is past this event for good: no need to remember it.
      else if (origin === 'remote' && uploader.pendingCount > 0) this.fromServer.add(ordinal);
    });
    chain.attachPipe(this);
  }

  /** Connects, streams, reconnects with backoff until closed or refused for good. */
  private async run(): Promise<void> {
    let backoff = BACKOFF_FIRST_MS;
    while (!this.closing) {
      let reason = '';
      try {
        this.status('connecting');
        const conn = await connect({
          host: this.home.host,
          port: this.home.port,
          encryption: this.opts.encryption ?? 128,
          ...(this.opts.knownServersPath ? { knownServersPath: this.opts.knownServersPath } : {}),
          ...(this.opts.fingerprint ? { fingerprint: this.opts.fingerprint } : {}),
          timeoutMs: this.opts.connectTimeoutMs ?? 10_000,
        });
        if (this.closing) {
          conn.close();
          break;
        }
        reason = await this.serve(conn);
        if (this.synced) backoff = BACKOFF_FIRST_MS;
        else if (this.waitingForFirstSync) {
          this.stop(new MeshError(`the server ${this.where} closed the connection before the chain ${this.key} was synchronized (${reason})`));
          break;
        }
      } catch (err) {
        reason = (err as Error).message;
        // An identity mismatch or a refusal will not heal by retrying; nor a failure while the
        // caller waits for the first sync.
        if (isPermanent(err) || this.waitingForFirstSync) {
          if (!this.waitingForFirstSync) this.warn(`${reason}; not reconnecting`);
          this.stop(err instanceof AteError ? err : new MeshError(reason));
          break;
        }
      }
      this.disconnected(reason);
      if (this.stopped || this.closing) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  /** One connection's life; resolves with the reason it ended. */
  private serve(conn: Connection): Promise<string> {
    this.conn = conn;
    return new Promise((resolve, reject) => {
      const inbox: ServerMessage[] = [];
      let busy = false;
      let failed = false;
      const drain = async (): Promise<void> => {
        if (busy) return;
        busy = true;
        try {
          while (inbox.length > 0 && !failed) await this.handle(conn, inbox.shift()!);
        } catch (err) {
          failed = true;
          conn.close();
          reject(err);
        } finally {
          busy = false;
        }
      };
      conn.onMessage = (msg) => {
        inbox.push(msg);
        void drain();
      };
      conn.onClose = (err) => {
        if (this.conn === conn) this.conn = undefined;
        // Messages that arrived before the close (a refusal, say) are handled first.
        const settle = (): void => {
          if (busy) setImmediate(settle);
          else resolve(err?.message ?? 'closed by the server');
        };
        settle();
      };
      conn.send({
        t: 'subscribe',
        chain: this.key,
        from: this.state?.next ?? 0,
        ...(this.state ? { epoch: this.state.epoch } : {}),
        ...(this.opts.token !== undefined ? { token: this.opts.token } : {}),
      });
    });
  }

  private async handle(conn: Connection, msg: ServerMessage): Promise<void> {
    switch (msg.t) {
      case 'start': {
        const rootKeys = msg.rootKeys.map((k) => toHex(k));
        const fresh = this.state?.epoch !== msg.epoch;
        if (!this.state) {
          this.state = { epoch: msg.epoch, next: 0, mark: 0, integrity: msg.integrity as IntegrityMode, rootKeys };
          await this.openReplica(this.state);
        } else if (fresh) {
          this.state.epoch = msg.epoch;
          this.state.next = 0;
        }
        return;
      }
      case 'events': {
        const result = this.chain.ingest(msg.evts, { origin: 'remote', trustedPeer: true, skipKnown: true });
        for (const e of result.errors) this.warn(`an event from the server was refused by the local replica of ${this.key}: ${e.message}`);
        this.state!.next = Math.max(this.state!.next, msg.seq + msg.evts.length);
        if (this.synced) this.saver.save();
        return;
      }
      case 'end': {
        this.state!.next = Math.max(this.state!.next, msg.seq);
        this.synced = true;
        this.uploadLeftovers();
        this.uploader!.online(conn);
        this.saver.save();
        this.status('synced');
        for (const w of this.syncWaiters.splice(0)) w.resolve();
        return;
      }
      case 'confirmed':
        // The server sent none of our own events back: seq carries the stream past them.
        if (msg.seq !== undefined) this.state!.next = Math.max(this.state!.next, msg.seq);
        this.uploader?.confirmed(msg.commit);
        return;
      case 'commitError':
        this.uploader?.refused(msg.commit, msg.message);
        return;
      case 'lockResult': {
        const list = this.lockWaiters.get(msg.key as PrimaryKey);
        const w = list?.shift();
        if (list?.length === 0) this.lockWaiters.delete(msg.key as PrimaryKey);
        w?.(msg.locked);
        return;
      }
      case 'refused': {
        if (msg.code === 'not-this-root' && msg.home) {
          const [host, port] = splitHostPort(msg.home);
          this.home = { host, port };
          this.warn(`${this.key} lives on ${msg.home}, not on the server it was routed to; check that every client and server use the same server list`);
          conn.close();
          return;
        }
        throw new RefusedError(`the server ${conn.remote} refused ${this.key}: ${msg.message}`);
      }
      case 'fatal':
        conn.close();
        return;
      default:
        return;
    }
  }

  /** After a restart: local events from the mark on that the server did not send are uploaded. */
  private uploadLeftovers(): void {
    const chain = this.chain;
    const mark = this.uploader!.mark;
    const ordinals: number[] = [];
    for (let o = mark; o < chain.count; o++) if (!this.fromServer.has(o)) ordinals.push(o);
    this.uploader!.restore(ordinals);
  }

  private disconnected(reason: string): void {
    const wasSynced = this.synced;
    this.conn = undefined;
    this.synced = false;
    this.uploader?.offline(this.recovery === 'async', reason);
    for (const [, list] of this.lockWaiters) for (const w of list) w(false);
    this.lockWaiters.clear();
    // Reported once per lost connection, not per failed retry.
    if (wasSynced && !this.closing) this.status('disconnected', reason);
  }

  private stop(err: Error): void {
    this.stopped = err;
    for (const w of this.syncWaiters.splice(0)) w.reject(err);
  }

  private snapshot(): SyncState | undefined {
    if (!this.state || !this.uploader) return undefined;
    const mark = this.uploader.mark;
    for (const o of this.fromServer) if (o < mark) this.fromServer.delete(o);
    return { ...this.state, mark };
  }

  private status(s: MeshStatus, detail?: string): void {
    this.opts.onStatus?.(s, detail);
  }

  private warn(message: string): void {
    if (this.opts.onWarning) this.opts.onWarning(message);
    else process.emitWarning(message, 'AteWarning');
  }
}

/** The server refused the chain (policy, permissions): retrying will not help. */
class RefusedError extends MeshError {}

function isPermanent(err: unknown): boolean {
  return err instanceof RefusedError || (err instanceof AteError && err.name === 'ServerIdentityError');
}

function splitHostPort(text: string): [string, number] {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new ConfigError(`bad server address ${text}`);
  return [text.slice(0, i).replace(/^\[|\]$/g, ''), port];
}

function rootKeyOf(hex: string): PublicSignKey {
  const k = decodeKey(fromHex(hex));
  if (k.kind !== 'sign-public') throw new MeshError(`the server announced a root key that is not a public signing key (${k.kind})`);
  return k.key;
}
