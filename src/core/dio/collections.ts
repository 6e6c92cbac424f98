// References between objects: DaoVec (a parent's collection of children), DaoRef (one object
// in the same chain) and DaoRefForeign (an object in another chain). All three are plain data
// that can be stored inside an object's value.
import { type ChainKey, type CollectionId, type PrimaryKey, randomCollectionId } from '../event/ids.js';
import type { AteSession } from '../session/session.js';
import type { Dao } from './dao.js';
import type { Dio, StoreOptions } from './dio.js';

export interface DaoVec {
  readonly parent: PrimaryKey;
  readonly collection: CollectionId;
}

export function daoVec(parent: PrimaryKey, collection: CollectionId = randomCollectionId()): DaoVec {
  return { parent, collection };
}

/** Stages a new child in the collection. */
export function pushTo<T>(dio: Dio, vec: DaoVec, value: T, opts: Omit<StoreOptions, 'parent'> = {}): Dao<T> {
  return dio.store(value, { ...opts, parent: { key: vec.parent, collection: vec.collection } });
}

export function iterate<T>(dio: Dio, vec: DaoVec, opts: { skipUnreadable?: boolean } = {}): Promise<Dao<T>[]> {
  return dio.children<T>(vec.parent, vec.collection, opts);
}

export interface DaoRef {
  readonly key: PrimaryKey | undefined;
}

export const daoRef = (key?: PrimaryKey): DaoRef => ({ key });

export async function loadRef<T>(dio: Dio, ref: DaoRef): Promise<Dao<T> | undefined> {
  return ref.key === undefined ? undefined : dio.load<T>(ref.key);
}

export interface DaoRefForeign {
  readonly chain: ChainKey;
  readonly key: PrimaryKey;
}

/** Opens chains by key; a ChainBuilder is one. */
export interface ChainRepository {
  dioFor(chain: ChainKey, session: AteSession): Promise<Dio>;
}

export const foreignRef = (chain: ChainKey, key: PrimaryKey): DaoRefForeign => ({ chain, key });

/** Loads an object from another chain, opening that chain through the repository with the same session. */
export async function loadForeign<T>(repo: ChainRepository, session: AteSession, ref: DaoRefForeign): Promise<Dao<T>> {
  const dio = await repo.dioFor(ref.chain, session);
  return dio.load<T>(ref.key);
}
