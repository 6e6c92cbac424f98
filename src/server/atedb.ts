// atedb as a library: hosts chains for clients over the wire protocol. Chains open lazily on
// their first subscribe, under the open policy, with root keys from the auth server.
import { join } from 'node:path';
import { ChainBuilder } from '../core/chain/builder.js';
import { Conversation } from '../core/chain/chain.js';
import type { CompactMode, IntegrityMode } from '../core/chain/config.js';
import { type PrivateSignKey, type PublicSignKey, encodeKey, equalBytes } from '../core/crypto/index.js';
import { type ChainKey, primaryKey } from '../core/event/ids.js';
import { AteError, DecodeError } from '../core/errors.js';
import { type ServerAddress, homeOf } from '../core/mesh/routing.js';
import { type ClientMessage, type Request, type Subscribe, type UploadEvents, type WireEncryption, hostPort } from '../core/mesh/wire/index.js';
import { ACCESS_RECHECK_MS, AccessDenied, AccessGate } from './access.js';
import type { AuthDirectory } from './auth-directory.js';
import { loadEpoch, renewEpoch } from './epoch.js';
import { HostedChain, type Member } from './hosted-chain.js';
import { identityFingerprint, loadOrCreateIdentity } from './identity.js';
import { type ChainKind, classifyChain } from './open-policy.js';
import { ChainRefusal } from './refusal.js';
import { type ServerConnection, type SessionHandler, WireServer } from './wire-server.js';

/** The future-timestamp tolerance of the most lenient client profile (best-performance). */
const TIME_TOLERANCE_MS = 4000;

export interface AtedbOptions {
  /** Where chain logs (one directory per chain, mirroring its path), epochs and server.key live. */
  readonly logsPath: string;
  readonly host: string;
  /** 0 picks a free port (see Atedb.port). */
  readonly port: number;
  /** The least wire encryption the server asks for; 'off': none (a client may still ask). */
  readonly encryption: WireEncryption | 'off';
  readonly trust: IntegrityMode;
  /** Where root keys come from; undefined: --no-auth (personal chains have no root key, group chains are refused). */
  readonly auth?: AuthDirectory;
  readonly compactMode?: CompactMode;
  /** Every server of the mesh (addresses as clients resolve them); without it this server hosts every chain. */
  readonly servers?: readonly ServerAddress[];
  /** This server's addresses among `servers`. */
  readonly self?: readonly ServerAddress[];
  readonly maxConnections?: number;
  readonly handshakeTimeoutMs?: number;
  /** Default: <logsPath>/server.key, made on first start. */
  readonly identity?: PrivateSignKey;
  readonly log?: (line: string) => void;
}

export class Atedb {
  private readonly chains = new Map<ChainKey, Promise<HostedChain>>();
  /** With an auth server: the token check of every subscribe. */
  private readonly gate: AccessGate | undefined;
  private readonly selfNames: ReadonlySet<string>;
  private closing: Promise<void> | undefined;
  private readonly log: (line: string) => void;

  private constructor(
    private readonly opts: AtedbOptions,
    readonly server: WireServer,
    readonly fingerprint: string,
  ) {
    this.log = opts.log ?? (() => undefined);
    this.selfNames = new Set((opts.self ?? []).map((s) => hostPort(s.host, s.port)));
    this.gate = opts.auth ? new AccessGate(opts.auth) : undefined;
    server.setSessions((conn) => new AtedbSession(this, conn));
  }

  static async start(opts: AtedbOptions): Promise<Atedb> {
    const identity = opts.identity ?? (await loadOrCreateIdentity(opts.logsPath));
    const server = await WireServer.start({
      host: opts.host,
      port: opts.port,
      identity,
      encryption: opts.encryption,
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    return new Atedb(opts, server, identityFingerprint(identity));
  }

  get port(): number {
    return this.server.port;
  }

  /** Stops accepting, finishes the commits in flight, closes every connection and chain (flushed). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.server.close();
      const chains = await Promise.allSettled([...this.chains.values()]);
      this.chains.clear();
      for (const c of chains) if (c.status === 'fulfilled') await c.value.close();
    })();
    return this.closing;
  }

  /** The chain's home when it is another server of the mesh. */
  private homeElsewhere(key: ChainKey): string | undefined {
    const servers = this.opts.servers;
    if (!servers || servers.length === 0) return undefined;
    const home = homeOf(key, servers);
    const name = hostPort(home.host, home.port);
    return this.selfNames.has(name) ? undefined : name;
  }

  /**
   * The hosted chain of a subscribe; ChainRefusal when it is not this server's to host or, with an
   * auth server, when `token` does not give access to it.
   */
  async open(name: string, token?: string): Promise<HostedChain> {
    if (this.closing) throw new ChainRefusal('denied', 'the server is shutting down; reconnect shortly');
    const kind = classifyChain(name);
    const home = this.homeElsewhere(kind.key);
    if (home !== undefined) throw new ChainRefusal('not-this-root', `${kind.key} is hosted by ${home}, not by this server`, home);
    const root = this.gate ? await this.gate.admit(kind, token) : undefined;
    const hosted = this.chains.get(kind.key);
    if (!hosted) return this.track(kind.key, this.openNew(kind, root));
    return root ? this.rootedIn(kind, hosted, root) : hosted;
  }

  /** Whether subscribes need a token (an auth server is set). */
  get checksAccess(): boolean {
    return this.gate !== undefined;
  }

  /** Rejects with AccessDenied once `token` no longer opens `name` (expired, its holder removed from the group). */
  async recheck(name: string, token: string | undefined): Promise<void> {
    await this.gate?.admit(classifyChain(name), token);
  }

  private track(key: ChainKey, hosted: Promise<HostedChain>): Promise<HostedChain> {
    this.chains.set(key, hosted);
    hosted.catch(() => {
      if (this.chains.get(key) === hosted) this.chains.delete(key);
    });
    return hosted;
  }

  /**
   * The open chain, opened again if its root key is not `root`: removing a group's delegate gives
   * the group chain a new root key, and a chain's root keys are fixed when it opens. Its
   * subscribers are disconnected and resubscribe to the reopened chain.
   */
  private async rootedIn(kind: ChainKind, hosted: Promise<HostedChain>, root: PublicSignKey): Promise<HostedChain> {
    const h = await hosted;
    const now = this.chains.get(kind.key);
    if (now !== hosted) return now ?? this.track(kind.key, this.openNew(kind, root));
    const want = encodeKey({ kind: 'sign-public', key: root });
    if (h.rootKeys.some((k) => equalBytes(k, want))) return h;
    this.log(`${kind.key}: its root key changed (a new delegate key); reopening it`);
    return this.track(
      kind.key,
      h.close().then(() => this.openNew(kind, root)),
    );
  }

  private async openNew(kind: ChainKind, root: PublicSignKey | undefined): Promise<HostedChain> {
    const roots: PublicSignKey[] = root ? [root] : [];
    if (kind.kind === 'group' && !root) throw new ChainRefusal('denied', `group chains need an auth server; start atedb with --auth <url> to host ${kind.key}`);
    const builder = new ChainBuilder({
      logPath: this.opts.logsPath,
      integrity: this.opts.trust,
      compactMode: this.opts.compactMode ?? { kind: 'never' },
      timeToleranceMs: TIME_TOLERANCE_MS,
    }).onWarning((m) => this.log(`${kind.key}: ${m}`));
    for (const k of roots) builder.addRootPublicKey(k);
    const chain = await builder.open(kind.key);
    try {
      const epochPath = `${join(this.opts.logsPath, ...kind.key.slice(1).split('/'))}.epoch`;
      // A log rewritten while it opened (an interrupted write dropped) has new positions.
      const epoch = chain.generation === 0 ? await loadEpoch(epochPath) : await renewEpoch(epochPath);
      this.log(`opened ${kind.key} (${chain.count} events, epoch ${epoch})`);
      return new HostedChain({
        chain,
        epoch,
        epochPath,
        rootKeys: roots.map((key) => encodeKey({ kind: 'sign-public', key })),
        log: this.log,
      });
    } catch (err) {
      await chain.close();
      throw err;
    }
  }
}

/** One connection's dealings with atedb: one chain, its commits and its locks. */
class AtedbSession implements SessionHandler {
  private readonly member: Member;
  private hosted: Promise<HostedChain | undefined> | undefined;
  private chain: HostedChain | undefined;
  private gone = false;
  private recheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Atedb,
    private readonly conn: ServerConnection,
  ) {
    this.member = { conn, conversation: new Conversation() };
  }

  message(msg: Exclude<ClientMessage, Request>): void {
    switch (msg.t) {
      case 'subscribe':
        this.subscribe(msg);
        return;
      case 'events':
        this.upload(msg);
        return;
      case 'lock':
      case 'unlock':
        void this.conn.track(this.lock(msg.t, msg.key));
        return;
      case 'fatal':
        return; // the connection handles it
    }
  }

  closed(): void {
    this.gone = true;
    clearInterval(this.recheck);
    this.chain?.unsubscribe(this.member);
  }

  private subscribe(msg: Subscribe): void {
    if (this.hosted) {
      this.conn.send({ t: 'refused', code: 'bad-request', message: 'this connection is already subscribed to a chain; open one connection per chain' });
      return;
    }
    this.hosted = this.conn.track(
      this.db.open(msg.chain, msg.token).then(
        (hosted) => {
          if (this.gone) return undefined;
          this.chain = hosted;
          return hosted;
        },
        (err: unknown) => {
          if (!(err instanceof AteError)) throw err;
          const refusal = err instanceof ChainRefusal ? err : new ChainRefusal('not-found', `cannot open ${msg.chain}: ${err.message}`);
          this.conn.send({ t: 'refused', code: refusal.refusal, message: refusal.message, ...(refusal.home !== undefined ? { home: refusal.home } : {}) });
          return undefined;
        },
      ),
    );
    void this.hosted.then((hosted) => {
      if (!hosted) return;
      if (this.db.checksAccess) this.watchAccess(msg);
      hosted.subscribe(this.member, msg.from, msg.epoch).catch((err: unknown) => {
        if (!(err instanceof AteError)) throw err;
        this.conn.wire.close(`streaming ${hosted.key} failed: ${err.message}`);
      });
    });
  }

  /** Access is checked at subscribe and then every few seconds: the connection ends with it. */
  private watchAccess(msg: Subscribe): void {
    this.recheck = setInterval(() => {
      this.db.recheck(msg.chain, msg.token).catch((err: unknown) => {
        // An auth server that cannot be asked withdraws nothing: it is asked again next time.
        if (err instanceof AccessDenied && !this.gone) this.conn.wire.close(`access to ${msg.chain} ended: ${err.message}`);
      });
    }, ACCESS_RECHECK_MS);
    this.recheck.unref();
  }

  private upload(msg: UploadEvents): void {
    if (!this.hosted) {
      this.conn.wire.close('events sent before subscribe: subscribe to a chain first');
      return;
    }
    const hosted = this.hosted;
    void this.conn.track(
      (async () => {
        const chain = await hosted;
        const refusal = chain ? await chain.commit(this.member, msg.evts) : 'the chain of this connection was refused';
        if (refusal !== undefined) this.conn.send({ t: 'commitError', commit: msg.commit, message: refusal });
        else if (msg.commit > 0) chain?.confirm(this.member, msg.commit);
      })(),
    );
  }

  private async lock(op: 'lock' | 'unlock', text: string): Promise<void> {
    const chain = await this.hosted;
    let locked = false;
    try {
      const key = primaryKey(text);
      if (chain && op === 'lock') locked = chain.lock(this.member, key);
      else chain?.unlock(this.member, key);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.conn.send({ t: 'refused', code: 'bad-request', message: err.message });
      return;
    }
    this.conn.send({ t: 'lockResult', key: text, locked });
  }
}
