// The server side of the wire protocol, shared by atedb and the auth server: it listens, runs
// requests through a registry of methods, bounds the work in flight per connection, and shuts
// down in order (stop accepting, finish what is in flight, close connections).
import { AteError } from '../core/errors.js';
import {
  type ClientMessage,
  type ListenOptions,
  type Listener,
  type Request,
  type ServerMessage,
  type WireConnection,
  listen,
} from '../core/mesh/wire/index.js';

/** Answers a request; throw an AteError to answer ok:false with its message. */
export type RequestHandler = (body: unknown, ctx: ServerConnection) => Promise<unknown> | unknown;

/** What a server that hosts chains does with the other messages of a connection. */
export interface SessionHandler {
  message(msg: Exclude<ClientMessage, Request>): void;
  closed(): void;
}

export interface WireServerOptions extends ListenOptions {
  /** Commits and requests in flight per connection before it is no longer read (default 64). */
  readonly maxInFlight?: number;
  /** One line per noteworthy event (the -v log). */
  readonly log?: (line: string) => void;
}

/** A client connection as the server sees it. */
export class ServerConnection {
  private inFlight = 0;
  private readonly work = new Set<Promise<unknown>>();

  constructor(
    readonly wire: WireConnection<ClientMessage, ServerMessage>,
    private readonly maxInFlight: number,
  ) {}

  get remote(): string {
    return this.wire.remote;
  }

  send(msg: ServerMessage): void {
    this.wire.send(msg);
  }

  /**
   * Counts a piece of work (a commit, a request) until it settles: shutdown waits for it, and a
   * connection with too much of it is not read until some finishes.
   */
  track<T>(work: Promise<T>): Promise<T> {
    this.inFlight++;
    if (this.inFlight === this.maxInFlight) this.wire.pauseReading();
    const settled = work.finally(() => {
      this.work.delete(done);
      if (this.inFlight-- === this.maxInFlight) this.wire.resumeReading();
    });
    const done = settled.catch(() => undefined);
    this.work.add(done);
    return settled;
  }

  /** Settles when the work tracked so far has. */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }
}

export class WireServer {
  readonly connections = new Set<ServerConnection>();
  private readonly methods = new Map<string, RequestHandler>();
  private sessions: ((c: ServerConnection) => SessionHandler) | undefined;
  private listener: Listener | undefined;
  private readonly log: (line: string) => void;
  private readonly maxInFlight: number;

  private constructor(private readonly opts: WireServerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.maxInFlight = opts.maxInFlight ?? 64;
  }

  /** Listens at once; register methods and the session handler before clients can matter. */
  static async start(opts: WireServerOptions): Promise<WireServer> {
    const server = new WireServer(opts);
    server.listener = await listen({ ...opts, onRefused: (remote, reason) => server.log(`refused ${remote}: ${reason}`) }, (wire) => server.accept(wire));
    return server;
  }

  get port(): number {
    return this.listener!.port;
  }

  /** Registers the handler of a request method. */
  handle(method: string, handler: RequestHandler): this {
    this.methods.set(method, handler);
    return this;
  }

  /** Handles subscribe, events, lock and unlock (atedb); without it they are refused. */
  setSessions(factory: (c: ServerConnection) => SessionHandler): this {
    this.sessions = factory;
    return this;
  }

  /** Stops accepting, waits for the work in flight, then closes every connection with `reason`. */
  async close(reason = 'the server is shutting down'): Promise<void> {
    await this.listener?.close();
    await Promise.all([...this.connections].map((c) => c.idle()));
    for (const c of this.connections) c.wire.close(reason);
    this.connections.clear();
  }

  private accept(wire: WireConnection<ClientMessage, ServerMessage>): void {
    const conn = new ServerConnection(wire, this.maxInFlight);
    this.connections.add(conn);
    this.log(`connected ${wire.remote} (${wire.encryption ? `AES-${wire.encryption}-GCM` : 'plaintext'})`);
    const session = this.sessions?.(conn);
    wire.onClose = (err) => {
      this.connections.delete(conn);
      session?.closed();
      this.log(`disconnected ${wire.remote}${err ? `: ${err.message}` : ''}`);
    };
    wire.onMessage = (msg) => {
      try {
        if (msg.t === 'request') void conn.track(this.answer(conn, msg));
        else if (session) session.message(msg);
        else conn.send({ t: 'refused', code: 'bad-request', message: `this server hosts no chains; it answers requests only (${msg.t} is not one)` });
      } catch (err) {
        // A bug must cost one connection, not the server.
        console.error(`internal error handling ${msg.t} from ${wire.remote} (please report it):`, err);
        wire.close(`internal error handling ${msg.t}; see the server's log`);
      }
    };
  }

  private async answer(conn: ServerConnection, req: Request): Promise<void> {
    const handler = this.methods.get(req.method);
    if (!handler) {
      conn.send({ t: 'response', id: req.id, ok: false, message: `unknown method "${req.method.slice(0, 100)}"` });
      return;
    }
    try {
      const body = await handler(req.body, conn);
      conn.send(body === undefined ? { t: 'response', id: req.id, ok: true } : { t: 'response', id: req.id, ok: true, body });
    } catch (err) {
      if (!(err instanceof AteError)) console.error(`internal error in ${req.method} (please report it):`, err);
      const message = err instanceof AteError ? err.message : `internal error in ${req.method}; see the server's log`;
      conn.send({ t: 'response', id: req.id, ok: false, message });
    }
  }
}
