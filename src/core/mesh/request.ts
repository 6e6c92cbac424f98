// Requests over a wire connection ({t:'request'} -> {t:'response'}, docs/FORMAT.md): the client
// side of a service such as the auth server. Several requests may be in flight on a connection;
// answers are matched by id. Every failure is one error with one line: RequestRefusedError
// carrying the server's own message, TimeoutError, or MeshError when the connection goes.
import { AteError, MeshError, TimeoutError } from '../errors.js';
import type { ClientMessage, ServerMessage, WireConnection } from './wire/index.js';

/** The server answered ok:false; `message` is its reason, word for word. */
export class RequestRefusedError extends AteError {
  override readonly code = 'REQUEST_REFUSED';
  constructor(
    readonly method: string,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  readonly method: string;
  resolve(body: unknown): void;
  reject(err: Error): void;
}

/** The requests in flight on one connection; it owns the connection's message and close handlers. */
class Requests {
  private nextId = 1;
  readonly pending = new Map<number, Pending>();
  private lost: Error | undefined;

  constructor(private readonly conn: WireConnection<ServerMessage, ClientMessage>) {
    conn.onMessage = (msg) => {
      if (msg.t !== 'response') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.body);
      else p.reject(new RequestRefusedError(p.method, msg.message ?? `${conn.remote} refused ${p.method} without a reason`));
    };
    conn.onClose = (err) => {
      this.lost = err ?? new MeshError(`the connection to ${conn.remote} was closed`);
      for (const p of this.pending.values()) p.reject(new MeshError(`${this.lost.message} before it answered ${p.method}`, { cause: this.lost }));
      this.pending.clear();
    };
  }

  send(method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    if (this.lost || this.conn.isClosed) {
      return Promise.reject(new MeshError(`the connection to ${this.conn.remote} is closed; cannot send ${method}`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(`${this.conn.remote} did not answer ${method} within ${Math.round(timeoutMs / 1000)} s; is the server overloaded?`));
      }, timeoutMs);
      const settle =
        <T>(fn: (v: T) => void) =>
        (v: T): void => {
          clearTimeout(timer);
          fn(v);
        };
      this.pending.set(id, { method, resolve: settle(resolve), reject: settle(reject) });
      this.conn.send({ t: 'request', id, method, body });
    });
  }
}

const byConnection = new WeakMap<WireConnection<ServerMessage, ClientMessage>, Requests>();

/**
 * Sends a request and resolves with the response's body. The first request on a connection
 * takes over its onMessage and onClose: use a connection for requests only.
 */
export function request<T = unknown>(conn: WireConnection<ServerMessage, ClientMessage>, method: string, body: unknown, timeoutMs = 30_000): Promise<T> {
  let r = byConnection.get(conn);
  if (!r) byConnection.set(conn, (r = new Requests(conn)));
  return r.send(method, body, timeoutMs) as Promise<T>;
}
