// The bus: listeners on a collection. Every listener sees every new child (broadcast);
// process() takes each child exactly once across every process sharing the chain,
// by locking and deleting it in one transaction (a queue).
import type { Chain } from '../chain/chain.js';
import type { PrimaryKey } from '../event/ids.js';
import type { AteSession } from '../session/session.js';
import type { Dao } from './dao.js';
import type { DaoVec } from './collections.js';
import { Dio } from './dio.js';

export class Bus<T> {
  private readonly waiting: PrimaryKey[] = [];
  private wake: (() => void) | undefined;
  private readonly stop: () => void;

  constructor(
    private readonly chain: Chain,
    private readonly session: AteSession,
    readonly vec: DaoVec,
  ) {
    this.stop = chain.onEvent((event) => {
      const p = event.meta.parent;
      if (event.meta.key === undefined || p?.key !== vec.parent || p.collection !== vec.collection) return;
      this.waiting.push(event.meta.key);
      this.wake?.();
    });
  }

  /** The next new child (broadcast: every listener receives it). */
  async recv(): Promise<Dao<T>> {
    for (;;) {
      const key = this.waiting.shift();
      if (key !== undefined && this.chain.view.objects.has(key)) return new Dio(this.chain, this.session).load<T>(key);
      if (key === undefined) await new Promise<void>((r) => (this.wake = r));
    }
  }

  /**
   * Takes the next child exactly once: it is locked and deleted in a transaction committed
   * before the handler's result is returned; children taken by others are skipped.
   */
  async process<R>(handler: (value: T, dao: Dao<T>) => R | Promise<R>): Promise<R> {
    for (;;) {
      const existing = [...this.chain.view.childrenOf(this.vec.parent, this.vec.collection)];
      for (const key of [...existing, ...this.waiting.splice(0)]) {
        const dio = new Dio(this.chain, this.session, 'full');
        if (!dio.tryLock(key)) continue;
        const dao = await dio.load<T>(key).catch(() => undefined);
        if (!dao || !this.chain.view.objects.has(key)) {
          dio.cancel();
          continue;
        }
        dio.delete(key);
        await dio.commit();
        return handler(dao.value, dao);
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  close(): void {
    this.stop();
  }
}
