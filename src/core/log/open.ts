// Opening a log: the file log recovers its directory (docs/FORMAT.md, "Opening"); the memory twin
// starts empty.
import { mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { AteError, LogCorruptError, LogForeignFileError } from '../errors.js';
import { logConfig, type LogConfig } from './config.js';
import { FileSegment, FileStore } from './file-store.js';
import {
  CURRENT,
  CURRENT_TMP,
  HASH_BYTES,
  MAX_HEADER,
  decodeCurrent,
  decodeHeader,
  headerLength,
  isTornCreation,
  parseSegmentFileName,
  segmentNo,
  type SegmentHeader,
} from './format.js';
import { Generation, type SegState } from './generation.js';
import { MemoryStore } from './memory-store.js';
import { LogImpl } from './redo-log.js';
import { hashBody, scanAppender } from './scan.js';
import { SealChain, firstBase } from './seal.js';
import type { MutableStats } from './store.js';
import type { OpenLogOptions, RedoLog } from './types.js';

export function openMemoryLog(opts: OpenLogOptions): RedoLog {
  const config = logConfig(opts);
  const stats: MutableStats = { writes: 0, syncs: 0 };
  const store = new MemoryStore(`memory:${opts.chainKey}`, stats);
  return new LogImpl(store, config, freshGeneration(store, config, 0), stats);
}

export async function openFileLog(dir: string, opts: OpenLogOptions): Promise<RedoLog> {
  const config = logConfig(opts);
  const stats: MutableStats = { writes: 0, syncs: 0 };
  const store = new FileStore(dir, stats);
  const gen = await recover(store, config, opts);
  return new LogImpl(store, config, gen, stats);
}

function freshGeneration(store: FileStore | MemoryStore, config: LogConfig, gen: number): Generation {
  return new Generation({
    store,
    gen,
    header: { chainKey: config.chainKey, cutOff: config.cutOff },
    chainKey: config.chainKeyBytes,
    sealKey: config.sealKey,
    segmentBytes: config.segmentBytes,
  });
}

/** A new generation whose first segment is on disk. */
async function created(store: FileStore, config: LogConfig, gen: number): Promise<Generation> {
  const g = freshGeneration(store, config, gen);
  await g.flush(true);
  return g;
}

async function recover(store: FileStore, config: LogConfig, opts: OpenLogOptions): Promise<Generation> {
  const dir = store.name;
  const names = await listDir(dir, opts.create !== false);
  const segFiles = names.flatMap((name) => parseSegmentFileName(name) ?? []);
  const currentPath = store.path(CURRENT);
  const notMine = (gen: number) => (name: string) => name === CURRENT_TMP || (parseSegmentFileName(name)?.gen ?? gen) !== gen;

  if (!names.includes(CURRENT)) {
    if (segFiles.length > 0) throw new LogCorruptError(currentPath, 0, 'CURRENT is missing but segment files exist');
    if (opts.create === false) throw missing(dir);
    await store.remove(notMine(0));
    await store.commit(0);
    return created(store, config, 0);
  }
  const current = decodeCurrent(await readFile(currentPath, 'latin1'), currentPath);

  if (opts.truncate) {
    await checkOwner(store, config, current);
    const g = await created(store, config, current + 1);
    await store.commit(current + 1);
    await store.remove(notMine(current + 1));
    return g;
  }

  const seqs = segFiles.filter((f) => f.gen === current).map((f) => f.seq).sort((a, b) => a - b);
  if (seqs.length === 0) {
    if (segFiles.length > 0) throw new LogCorruptError(currentPath, 0, `CURRENT names generation ${current}, which has no segments`);
    await store.remove(notMine(current));
    return created(store, config, current); // a crash between writing CURRENT and the first segment
  }
  seqs.forEach((seq, i) => {
    if (seq !== i) throw new LogCorruptError(store.segmentPath(current, i), 0, 'segment file is missing');
  });

  const segs = await openSegments(store, config, current, seqs.length);
  // Only now that the generation checked out: the leftovers of an interrupted compaction.
  await store.remove(notMine(current));
  if (segs.length === 0) return created(store, config, current);
  return openAppender(store, config, opts, current, segs);
}

interface Opened {
  readonly file: FileSegment;
  readonly header: SegmentHeader;
  readonly size: number;
}

/** Opens and checks every segment; drops a torn creation at the end. */
async function openSegments(store: FileStore, config: LogConfig, gen: number, n: number): Promise<Opened[]> {
  const out: Opened[] = [];
  try {
    for (let seq = 0; seq < n; seq++) {
      const path = store.segmentPath(gen, seq);
      const file = await FileSegment.open(path, true, store.stats);
      const size = await file.size();
      const head = await file.read(0, Math.min(size, MAX_HEADER));
      const expect = { gen, seq, chainKey: config.chainKeyBytes };
      let header: SegmentHeader;
      try {
        header = decodeHeader(head, path, expect);
      } catch (e) {
        if (seq === n - 1 && size <= headerLength(config.chainKeyBytes) && isTornCreation(head, expect)) {
          await file.close();
          await unlink(path);
          await store.syncDir();
          break;
        }
        await file.close();
        throw e;
      }
      out.push({ file, header, size });
    }
  } catch (e) {
    await Promise.all(out.map((o) => o.file.close()));
    throw e;
  }
  return out;
}

/** Scans the appender (torn tail, counts) and builds the live generation. */
async function openAppender(store: FileStore, config: LogConfig, opts: OpenLogOptions, gen: number, opened: Opened[]): Promise<Generation> {
  try {
    const hl = headerLength(config.chainKeyBytes);
    const last = opened[opened.length - 1]!;
    const scan = await scanAppender(last.file, hl, last.size);
    if (scan.end < last.size) {
      await last.file.truncate(scan.end);
      opts.onTornTail?.(last.file.name, scan.end, last.size - scan.end);
    }
    const segs: SegState[] = opened.map((o, seq) => {
      const end = o === last ? scan.end : o.size;
      const { countBefore, bytesBefore, base } = o.header;
      return { seq, no: segmentNo(gen, seq), countBefore, bytesBefore, base, file: o.file, written: end, synced: end };
    });
    const ends = segs.map((s) => s.written);
    return new Generation({
      store,
      gen,
      header: { chainKey: config.chainKey, cutOff: opened[0]!.header.cutOff },
      chainKey: config.chainKeyBytes,
      sealKey: config.sealKey,
      segmentBytes: config.segmentBytes,
      segs,
      layout: {
        seq: segs.length - 1,
        offset: scan.end,
        count: last.header.countBefore + scan.events,
        bytes: last.header.bytesBefore + scan.eventBytes,
        sinceSeal: scan.sinceSeal,
        // Events found unsealed are the chain's to judge (replay says so): this session seals
        // them only together with events of its own, never on a bare close.
        unsealed: 0,
      },
      resume: () => resumeChain(config, gen, opened, ends, hl),
    });
  } catch (e) {
    await Promise.all(opened.map((o) => o.file.close()));
    throw e;
  }
}

/**
 * The writer's seal chain at the end of the appender, as of opening: from the newest segment
 * whose header records its base (segment 0's is computed), hashing forward from there.
 */
async function resumeChain(config: LogConfig, gen: number, opened: Opened[], ends: number[], hl: number): Promise<SealChain> {
  const zero = Buffer.alloc(HASH_BYTES);
  let from = opened.length - 1;
  while (from > 0 && opened[from]!.header.base.equals(zero)) from--;
  const chain = SealChain.start(from === 0 ? firstBase(gen, opened[0]!.header.cutOff, config.chainKeyBytes) : opened[from]!.header.base);
  for (let seq = from; seq < opened.length; seq++) {
    if (seq > from) chain.nextSegment();
    await hashBody(opened[seq]!.file, hl, ends[seq]!, chain);
  }
  return chain;
}

/** Before truncating: refuse when the first segment is readable and belongs to another chain. */
async function checkOwner(store: FileStore, config: LogConfig, gen: number): Promise<void> {
  const path = store.segmentPath(gen, 0);
  const file = await FileSegment.open(path, false, store.stats).catch(() => undefined);
  if (!file) return;
  try {
    decodeHeader(await file.read(0, MAX_HEADER), path, { gen, seq: 0, chainKey: config.chainKeyBytes });
  } catch (e) {
    if (e instanceof LogForeignFileError) throw e;
  } finally {
    await file.close();
  }
}

async function listDir(dir: string, create: boolean): Promise<string[]> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new LogForeignFileError(dir, 'it is not a directory');
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!create) throw missing(dir);
    await mkdir(dir, { recursive: true });
    return [];
  }
}

function missing(dir: string): AteError {
  return new AteError(`redo log ${dir} does not exist; check the path, or open it with create enabled`);
}
