// The auth server's chains: users and groups spread over 256 shard chains (/auth-00 ... /auth-ff,
// by the first byte of the SHA-256 of a record's name), rooted in the master write key so that
// only the auth server writes them. Writes go through one queue: they are rare, and a single
// writer makes "check that the email is free, then create it" atomic without lock ordering.
import { createHash } from 'node:crypto';
import type { Chain } from '../../core/chain/chain.js';
import { ChainBuilder } from '../../core/chain/builder.js';
import { publicSignKey } from '../../core/crypto/index.js';
import { Dio } from '../../core/dio/dio.js';
import { type ChainKey, chainKey } from '../../core/event/ids.js';
import { type AteSession, userSession } from '../../core/session/session.js';
import type { MasterKeys } from './master-keys.js';

/** The shard chain that holds the records of a name. */
export function shardOf(name: string): ChainKey {
  return chainKey(`auth-${createHash('sha256').update(name).digest('hex').slice(0, 2)}`);
}

export class AuthStore {
  readonly masterSession: AteSession;
  private readonly builder: ChainBuilder;
  private writes: Promise<unknown> = Promise.resolve();

  /** `logsPath` undefined keeps every chain in memory (tests). */
  constructor(
    readonly master: MasterKeys,
    logsPath: string | undefined,
  ) {
    this.masterSession = userSession({ readKeys: [master.read], writeKeys: [master.write] });
    this.builder = new ChainBuilder({ logPath: logsPath, integrity: 'centralized' })
      .configuredFor('best-security')
      .addRootPublicKey(publicSignKey(master.write))
      .setSession(this.masterSession);
  }

  chainFor(name: string): Promise<Chain> {
    return this.builder.open(shardOf(name));
  }

  /** A transaction on the shard of `name`, durable on commit. */
  async dio(name: string, session: AteSession = this.masterSession): Promise<Dio> {
    return new Dio(await this.chainFor(name), session, 'full');
  }

  /** Runs `fn` after every write queued before it, and before any queued after it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn);
    this.writes = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.writes;
    await this.builder.close();
  }
}
