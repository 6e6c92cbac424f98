// Where atedb learns the root keys of the chains it hosts: the auth server, asked over the wire
// (requests user.advert and group.details, see docs/FORMAT.md "Wire protocol").
import { type PublicSignKey, decodeKey } from '../core/crypto/index.js';
import { AteError, KeyFormatError } from '../core/errors.js';
import { type ServerAddress, parseServer } from '../core/mesh/routing.js';
import { type ClientMessage, type ServerMessage, type WireConnection, type WireEncryption, connect } from '../core/mesh/wire/index.js';
import { ChainRefusal } from './refusal.js';

export interface AuthDirectory {
  /** How the auth server is named in messages (its URL). */
  readonly url: string;
  /** The key that signs the auth server's tokens. */
  issuerKey(): Promise<PublicSignKey>;
  /** The public sign key of user `email`: the root of their personal chains. */
  userRootKey(email: string): Promise<PublicSignKey>;
  /** The public sign keys of the group's roles; the delegate's is the root of the group's chain. */
  groupKeys(group: string): Promise<GroupKeys>;
}

export interface GroupKeys {
  readonly delegate: PublicSignKey;
  /** Every role's sign key (delegate included): who holds one may read the group chain. */
  readonly roles: readonly PublicSignKey[];
}

export const AUTH_DEFAULT_PORT = 5001;

/** tcp://host[:port][/] of an auth server (default port 5001). */
export function parseAuthUrl(url: string): ServerAddress {
  const m = /^tcp:\/\/([^/]+)\/?$/i.exec(url.trim());
  if (!m) throw new ChainRefusal('denied', `"${url}" is not an auth server URL; write tcp://host[:port] (default port ${AUTH_DEFAULT_PORT})`);
  return parseServer(m[1]!, AUTH_DEFAULT_PORT);
}

export interface WireAuthOptions {
  readonly encryption?: WireEncryption;
  /** Where the auth server's identity is pinned (atedb keeps it in its logs path). */
  readonly knownServersPath?: string;
  readonly fingerprint?: string;
  readonly timeoutMs?: number;
}

interface Pending {
  resolve(body: unknown): void;
  reject(err: Error): void;
}

/** An AuthDirectory over one connection to the auth server, opened on first use and reopened after a loss. */
export class WireAuthDirectory implements AuthDirectory {
  private readonly server: ServerAddress;
  private conn: Promise<WireConnection<ServerMessage, ClientMessage>> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    readonly url: string,
    private readonly opts: WireAuthOptions = {},
  ) {
    this.server = parseAuthUrl(url);
  }

  async userRootKey(email: string): Promise<PublicSignKey> {
    const body = await this.request('user.advert', { email }, `user ${email}`);
    return signKeyOf(body, 'signKey', `the auth server's key for user ${email}`);
  }

  async issuerKey(): Promise<PublicSignKey> {
    const body = await this.request('auth.identity', {}, 'the key that signs its tokens');
    return signKeyOf(body, 'signKey', "the auth server's token signing key");
  }

  async groupKeys(group: string): Promise<GroupKeys> {
    const body = await this.request('group.details', { group }, `group ${group}`);
    const roles = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['roles'] : undefined;
    if (!Array.isArray(roles)) throw new ChainRefusal('denied', `the auth server's details of group ${group} list no roles`);
    return {
      delegate: signKeyOf(body, 'delegateSignKey', `the auth server's delegate key of group ${group}`),
      roles: roles.map((r: unknown) => signKeyOf(r, 'signKey', `a role key of group ${group}`)),
    };
  }

  close(): void {
    void this.conn?.then((c) => c.close()).catch(() => undefined);
    this.conn = undefined;
  }

  private async request(method: string, body: unknown, what: string): Promise<unknown> {
    let conn: WireConnection<ServerMessage, ClientMessage>;
    try {
      conn = await this.connection();
    } catch (err) {
      throw new ChainRefusal(
        'denied',
        `cannot ask the auth server at ${this.url} about ${what}: ${err instanceof Error ? err.message : String(err)} (atedb was started with --auth ${this.url}; start that auth server, or restart atedb with the right --auth or with --no-auth)`,
      );
    }
    const id = this.nextId++;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    conn.send({ t: 'request', id, method, body });
    try {
      return await answer;
    } catch (err) {
      if (err instanceof ChainRefusal) throw err;
      throw new ChainRefusal('denied', `the auth server at ${this.url} did not answer about ${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private connection(): Promise<WireConnection<ServerMessage, ClientMessage>> {
    if (!this.conn) {
      const opening = connect({
        host: this.server.host,
        port: this.server.port,
        encryption: this.opts.encryption ?? 256,
        service: 'the auth server',
        ...(this.opts.knownServersPath !== undefined ? { knownServersPath: this.opts.knownServersPath } : {}),
        ...(this.opts.fingerprint !== undefined ? { fingerprint: this.opts.fingerprint } : {}),
        timeoutMs: this.opts.timeoutMs ?? 10_000,
      }).then((c) => {
        c.onMessage = (msg) => this.received(msg);
        c.onClose = (err) => {
          if (this.conn === opening) this.conn = undefined;
          const lost = err ?? new AteError('the connection was closed');
          for (const p of this.pending.values()) p.reject(lost);
          this.pending.clear();
        };
        return c;
      });
      this.conn = opening;
      opening.catch(() => {
        if (this.conn === opening) this.conn = undefined;
      });
    }
    return this.conn;
  }

  private received(msg: ServerMessage): void {
    if (msg.t !== 'response') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.body);
    else p.reject(new ChainRefusal('denied', `the auth server at ${this.url} refused: ${msg.message ?? 'no reason given'}`));
  }
}

function signKeyOf(body: unknown, field: string, what: string): PublicSignKey {
  const bytes = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
  try {
    if (!(bytes instanceof Uint8Array)) throw new KeyFormatError(`no ${field} in the answer`);
    const k = decodeKey(bytes);
    if (k.kind !== 'sign-public') throw new KeyFormatError(`a ${k.kind} key`);
    return k.key;
  } catch (err) {
    if (!(err instanceof KeyFormatError)) throw err;
    throw new ChainRefusal('denied', `${what} is not a public signing key (${err.message})`);
  }
}
