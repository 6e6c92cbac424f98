// The auth server as a running service: the request handlers on a wire server whose identity
// key is the master write key, so that the key a client pins on connecting is the very key that
// signs its tokens.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { lockLog } from '../../core/chain/log-lock.js';
import { type WireEncryption, serverFingerprint } from '../../core/mesh/wire/index.js';
import { publicSignKey } from '../../core/crypto/index.js';
import { WireServer } from '../wire-server.js';
import { type AuthContext, authContext } from './context.js';
import type { MasterKeys } from './master-keys.js';
import { authHandlers } from './service.js';
import { AuthStore } from './store.js';

export interface AuthServerOptions {
  readonly master: MasterKeys;
  /** Directory of the auth chains; undefined keeps them in memory. */
  readonly logsPath: string | undefined;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The least wire encryption the server asks for. */
  readonly encryption: WireEncryption | 'off';
  readonly context?: Partial<Omit<AuthContext, 'store'>>;
  readonly log?: (line: string) => void;
}

export interface RunningAuthServer {
  readonly port: number;
  /** The identity fingerprint clients pin (and the key that signs tokens). */
  readonly fingerprint: string;
  close(): Promise<void>;
}

export async function startAuthServer(opts: AuthServerOptions): Promise<RunningAuthServer> {
  let unlock = async (): Promise<void> => undefined;
  if (opts.logsPath !== undefined) {
    await mkdir(opts.logsPath, { recursive: true, mode: 0o700 });
    unlock = await lockLog(join(opts.logsPath, 'auth-server.lock'), `the auth chains in ${opts.logsPath}`);
  }
  const store = new AuthStore(opts.master, opts.logsPath);
  try {
    const server = await WireServer.start({
      host: opts.host,
      port: opts.port,
      identity: opts.master.write,
      encryption: opts.encryption,
      ...(opts.log ? { log: opts.log } : {}),
    });
    for (const [method, handler] of Object.entries(authHandlers(authContext(store, opts.context)))) server.handle(method, handler);
    return {
      port: server.port,
      fingerprint: serverFingerprint(publicSignKey(opts.master.write)),
      close: async () => {
        await server.close();
        await store.close();
        await unlock();
      },
    };
  } catch (err) {
    await store.close();
    await unlock();
    throw err;
  }
}
