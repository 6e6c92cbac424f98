// ChainBuilder assembles a chain's plugins from a profile, then opens chains by key.
// It is also the repository that foreign references open other chains through.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type PublicSignKey, SignerPool, randomBytes } from '../crypto/index.js';
import { type ChainKey, chainKey } from '../event/ids.js';
import { ConfigError } from '../errors.js';
import { type RedoLog, openFileLog, openMemoryLog } from '../log/index.js';
import { type AteSession, anonymousSession } from '../session/session.js';
import { antiReplay, rubberStamp, timestampEnforcer, treeAuthority } from '../trust/validators.js';
import { Dio, type Scope } from '../dio/dio.js';
import type { ChainRepository } from '../dio/collections.js';
import { Chain, type TimeTravel } from './chain.js';
import { lockLog } from './log-lock.js';
import { type Compactor, defaultCompactors } from './compaction/index.js';
import { type ChainConfig, type ConfiguredFor, DEFAULT_CONFIG, type IntegrityMode, profileTolerance } from './config.js';
import type { Indexer, Linter, Plugin, Transformer, Validator } from './plugins.js';
import { deflateTransformer } from './transformers.js';

export class ChainBuilder implements ChainRepository {
  private config: ChainConfig;
  private defaults = true;
  private readonly validators: Validator[] = [];
  private readonly linters: Linter[] = [];
  private readonly transformers: Transformer[] = [];
  private readonly indexers: Indexer[] = [];
  private readonly compactors: Compactor[] = [];
  private readonly rootKeys: PublicSignKey[] = [];
  private session: AteSession = anonymousSession();
  private signerPool: SignerPool | undefined;
  private warn: ((message: string) => void) | undefined;
  private progress: ((events: number) => void) | undefined;
  private readonly opened = new Map<ChainKey, Promise<Chain>>();

  constructor(config: Partial<ChainConfig> = {}) {
    this.config = { ...DEFAULT_CONFIG, ...config };
  }

  /** Picks a profile: which plugins a chain gets and its timestamp tolerance. */
  configuredFor(profile: ConfiguredFor): this {
    this.config = { ...this.config, configuredFor: profile, timeToleranceMs: profileTolerance(profile) };
    return this;
  }

  withDefaults(): this {
    this.defaults = true;
    return this;
  }

  /** Only the plugins added by hand. */
  withoutDefaults(): this {
    this.defaults = false;
    return this;
  }

  set(config: Partial<ChainConfig>): this {
    this.config = { ...this.config, ...config };
    return this;
  }

  logPath(path: string | undefined): this {
    return this.set({ logPath: path });
  }

  temporal(on = true): this {
    return this.set({ temporal: on });
  }

  truncate(on = true): this {
    return this.set({ truncate: on });
  }

  integrity(mode: IntegrityMode): this {
    return this.set({ integrity: mode });
  }

  disableNewRoots(on = true): this {
    return this.set({ disableNewRoots: on });
  }

  addValidator(v: Validator): this {
    this.validators.push(v);
    return this;
  }

  addLinter(l: Linter): this {
    this.linters.push(l);
    return this;
  }

  addTransformer(t: Transformer): this {
    this.transformers.push(t);
    return this;
  }

  addIndexer(i: Indexer): this {
    this.indexers.push(i);
    return this;
  }

  addPlugin(p: Plugin): this {
    this.validators.push(...(p.validators ?? []));
    this.linters.push(...(p.linters ?? []));
    this.transformers.push(...(p.transformers ?? []));
    this.indexers.push(...(p.indexers ?? []));
    return this;
  }

  /** A compactor that votes on what compaction keeps, besides the defaults (see compaction/). */
  addCompactor(c: Compactor): this {
    this.compactors.push(c);
    return this;
  }

  /** A key allowed to write at the root of the tree (and so everywhere that inherits). */
  addRootPublicKey(key: PublicSignKey): this {
    this.rootKeys.push(key);
    return this;
  }

  /** The session a chain uses for its own work (for example signing events a crash left unsigned). */
  setSession(session: AteSession): this {
    this.session = session;
    return this;
  }

  /** Called while a chain opens, with the number of events replayed so far. */
  onProgress(fn: (events: number) => void): this {
    this.progress = fn;
    return this;
  }

  /**
   * Opens a chain as it was at a moment or right after an event, read-only (time travel).
   * Not cached: each call replays the log's prefix again.
   */
  async openAt(key: ChainKey | string, until: TimeTravel): Promise<Chain> {
    const k = typeof key === 'string' ? chainKey(key) : key;
    const open = this.opened.get(k);
    if (open) return (await open).at(until);
    return this.openNew(k, until);
  }

  /** Where a chain reports what it repaired on its own (default: process.emitWarning). */
  onWarning(fn: (message: string) => void): this {
    this.warn = fn;
    return this;
  }

  setSignerPool(pool: SignerPool): this {
    this.signerPool = pool;
    return this;
  }

  get cfg(): ChainConfig {
    return this.config;
  }

  /** Opens (or returns the already open) chain with this key. */
  open(key: ChainKey | string): Promise<Chain> {
    const k = typeof key === 'string' ? chainKey(key) : key;
    let chain = this.opened.get(k);
    if (!chain) {
      chain = this.openNew(k);
      this.opened.set(k, chain);
      chain.catch(() => this.opened.delete(k));
    }
    return chain;
  }

  async dioFor(chain: ChainKey, session: AteSession, scope: Scope = 'local'): Promise<Dio> {
    return new Dio(await this.open(chain), session, scope);
  }

  /** Closes every chain this builder opened. */
  async close(): Promise<void> {
    const chains = [...this.opened.values()];
    this.opened.clear();
    await Promise.all(chains.map(async (c) => (await c.catch(() => undefined))?.close()));
  }

  private async openNew(key: ChainKey, until?: TimeTravel): Promise<Chain> {
    const profile = this.config.configuredFor;
    const tree = this.defaults && profile !== 'raw' && profile !== 'barebone';
    const validators: Validator[] = [];
    const transformers: Transformer[] = [];
    if (this.defaults && profile !== 'raw') validators.push(antiReplay);
    if (this.defaults && profile === 'barebone') validators.push(rubberStamp);
    if (tree) validators.push(treeAuthority, timestampEnforcer(this.config.timeToleranceMs));
    if (this.defaults && profile === 'smallest-size') transformers.push(deflateTransformer);
    const chain = await Chain.open({
      key,
      config: this.config,
      ...(await this.openLog(key)),
      validators: [...validators, ...this.validators],
      linters: [...this.linters],
      transformers: [...transformers, ...this.transformers],
      indexers: [...this.indexers],
      compactors: [...(this.defaults && profile !== 'raw' ? defaultCompactors : []), ...this.compactors],
      rootKeys: [...this.rootKeys],
      treeAuthority: tree,
      session: this.session,
      ...(this.signerPool ? { signerPool: this.signerPool } : {}),
      ...(this.warn ? { onWarning: this.warn } : {}),
      ...(this.progress ? { onProgress: this.progress } : {}),
      ...(until ? { until } : {}),
    });
    return chain;
  }

  private async openLog(key: ChainKey): Promise<{ log: RedoLog; release?: () => Promise<void> }> {
    const { logPath, temporal, truncate } = this.config;
    if (logPath === undefined || temporal) return { log: openMemoryLog({ chainKey: key }) };
    const dir = `${join(logPath, ...key.slice(1).split('/'))}.log`;
    await mkdir(dirname(dir), { recursive: true });
    const release = await lockLog(`${dir}.lock`, `the log of chain ${key} (${dir})`);
    try {
      return { log: await openFileLog(dir, { chainKey: key, truncate, sealKey: await sealKey(`${dir}.seal`) }), release };
    } catch (err) {
      await release();
      throw err;
    }
  }
}

/**
 * The key that seals this node's log so that reopening it need not verify every signature
 * again; created on first use, readable only by its owner.
 */
async function sealKey(path: string): Promise<Uint8Array> {
  try {
    const key = await readFile(path);
    if (key.length !== 32) throw new ConfigError(`${path} is not a seal key (expected 32 bytes); delete it to make the chain verify every signature and write a new one`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const key = randomBytes(32);
    await writeFile(path, key, { mode: 0o600, flag: 'wx' });
    return key;
  }
}
