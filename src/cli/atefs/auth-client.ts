// The atefs side of the auth server: one wire connection (opened on first use) and a typed call
// per method. Every failure becomes one CliError line: the server's own refusal, an unreachable
// server, a timeout, a changed server identity.
import { type PublicSignKey, decodeKey } from '../../core/crypto/index.js';
import { AteError, ConfigError } from '../../core/errors.js';
import { request } from '../../core/mesh/request.js';
import { parseServer } from '../../core/mesh/routing.js';
import { type ClientMessage, type ServerMessage, type WireConnection, type WireEncryption, connect, hostPort } from '../../core/mesh/wire/index.js';
import { AUTH_METHODS, AUTH_PORT, type AdvertResponse, type CreateGroupResponse, type CreateUserRequest, type CreateUserResponse, type DetailsResponse, type GatherResponse, type LoginRequest, type RemoveUserResponse, type SaltResponse, type TokenResponse } from '../../server/auth/protocol.js';
import { CliError, UsageError } from '../run.js';

export const DEFAULT_AUTH_URL = `tcp://localhost:${AUTH_PORT}`;
const TIMEOUT_MS = 30_000;

/** tcp://host[:port][/] (default port 5001), as atedb --auth takes it. */
export function parseAuthUrl(url: string): { host: string; port: number; url: string } {
  const m = /^tcp:\/\/([^/]+)\/?$/i.exec(url.trim());
  if (!m) throw new UsageError(`--auth "${url}" is not an auth server URL; write it like tcp://host:${AUTH_PORT}`);
  try {
    const { host, port } = parseServer(m[1]!, AUTH_PORT);
    return { host, port, url: `tcp://${hostPort(host, port)}` };
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`--auth "${url}": ${err.message}`);
    throw err;
  }
}

export class AuthClient {
  readonly url: string;
  private readonly host: string;
  private readonly port: number;
  private conn: Promise<WireConnection<ServerMessage, ClientMessage>> | undefined;
  private identityKey: Promise<PublicSignKey> | undefined;

  constructor(
    url: string,
    private readonly encryption: WireEncryption,
  ) {
    const parsed = parseAuthUrl(url);
    this.url = parsed.url;
    this.host = parsed.host;
    this.port = parsed.port;
  }

  /** The key that signs this server's tokens (asked once). */
  identity(): Promise<PublicSignKey> {
    this.identityKey ??= this.call<{ signKey: Uint8Array }>(AUTH_METHODS.identity, {}).then(({ signKey }) => {
      const k = decodeKey(signKey);
      if (k.kind !== 'sign-public') throw new CliError(`the auth server at ${this.url} sent no signing key as its identity`);
      return k.key;
    });
    return this.identityKey;
  }

  salt = (email: string): Promise<SaltResponse> => this.call(AUTH_METHODS.salt, { email });
  createUser = (req: CreateUserRequest): Promise<CreateUserResponse> => this.call(AUTH_METHODS.createUser, req);
  login = (req: LoginRequest): Promise<TokenResponse> => this.call(AUTH_METHODS.login, req);
  advert = (email: string): Promise<AdvertResponse> => this.call(AUTH_METHODS.advert, { email });
  gather = (token: string, group: string): Promise<GatherResponse> => this.call(AUTH_METHODS.gather, { token, group });
  createGroup = (token: string, group: string): Promise<CreateGroupResponse> => this.call(AUTH_METHODS.createGroup, { token, group });
  addUser = (token: string, group: string, role: string, email: string): Promise<unknown> => this.call(AUTH_METHODS.addUser, { token, group, role, email });
  removeUser = (token: string, group: string, role: string, email: string): Promise<RemoveUserResponse> =>
    this.call(AUTH_METHODS.removeUser, { token, group, role, email });
  details = (group: string, token?: string): Promise<DetailsResponse> => this.call(AUTH_METHODS.details, { group, ...(token !== undefined ? { token } : {}) });

  close(): void {
    void this.conn?.then((c) => c.close()).catch(() => undefined);
    this.conn = undefined;
  }

  private async call<T>(method: string, body: unknown): Promise<T> {
    try {
      this.conn ??= connect({ host: this.host, port: this.port, encryption: this.encryption, service: 'the auth server', timeoutMs: 10_000 });
      return await request<T>(await this.conn, method, body, TIMEOUT_MS);
    } catch (err) {
      if (err instanceof AteError && !(err instanceof CliError)) throw new CliError(err.message, undefined, { cause: err });
      throw err;
    }
  }
}
