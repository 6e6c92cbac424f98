// An fsx-style model checker: seeded random operations on a few files of a mounted filesystem,
// run by a python3 worker process (so it can mmap, and so this process never blocks on the mount),
// each checked against an in-memory model. Used by test/fs/fsx.test.ts and scripts/fsx.ts.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';

/** Deterministic bytes for a write: the same in the worker (hashlib.shake_128) and here. */
export function pattern(seed: number, len: number): Buffer {
  if (len === 0) return Buffer.alloc(0);
  return createHash('shake128', { outputLength: len }).update(`fsx:${seed}`).digest();
}

const WORKER = String.raw`
import sys, os, json, mmap, hashlib, base64
fds = {}
def pat(seed, n):
    return hashlib.shake_128(('fsx:%d' % seed).encode()).digest(n) if n > 0 else b''
def size(f):
    return os.fstat(fds[f]).st_size if f in fds else None
for line in sys.stdin:
    c = json.loads(line)
    op = c['op']; f = c.get('f'); out = {}
    try:
        if op == 'open':
            fds[f] = os.open(c['path'], os.O_RDWR | os.O_CREAT, 0o644)
        elif op == 'close':
            os.close(fds.pop(f))
        elif op == 'write':
            d = pat(c['seed'], c['len'])
            n = os.pwrite(fds[f], d, c['off'])
            out['n'] = n
        elif op == 'read':
            d = os.pread(fds[f], c['len'], c['off'])
            out['len'] = len(d); out['sha'] = hashlib.sha256(d).hexdigest()
            if c.get('raw'): out['raw'] = base64.b64encode(d).decode()
        elif op == 'truncate':
            os.ftruncate(fds[f], c['size'])
        elif op == 'fsync':
            os.fsync(fds[f])
        elif op == 'mapread':
            with mmap.mmap(fds[f], 0, mmap.MAP_SHARED, mmap.PROT_READ) as m:
                d = m[c['off']:c['off'] + c['len']]
            out['len'] = len(d); out['sha'] = hashlib.sha256(d).hexdigest()
        elif op == 'mapwrite':
            with mmap.mmap(fds[f], 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
                m[c['off']:c['off'] + c['len']] = pat(c['seed'], c['len'])
                if c.get('sync'): m.flush()
        elif op == 'readall':
            with open(c['path'], 'rb') as h:
                d = h.read()
            out['len'] = len(d); out['sha'] = hashlib.sha256(d).hexdigest()
        elif op == 'quit':
            break
        out['size'] = size(f)
    except OSError as e:
        out['errno'] = e.errno; out['error'] = str(e)
    print(json.dumps(out), flush=True)
`;

interface Reply {
  n?: number;
  len?: number;
  sha?: string;
  raw?: string;
  size?: number | null;
  errno?: number;
  error?: string;
}

class Worker {
  private readonly child = spawn('python3', ['-u', '-c', WORKER], { stdio: ['pipe', 'pipe', 'pipe'] });
  private readonly lines: AsyncIterableIterator<string>;
  private stderr = '';

  constructor() {
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  async call(cmd: Record<string, unknown>): Promise<Reply> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`fsx worker died: ${this.stderr}`);
    return JSON.parse(next.value) as Reply;
  }

  async quit(): Promise<void> {
    this.child.stdin.end(`${JSON.stringify({ op: 'quit' })}\n`);
    await new Promise((r) => this.child.once('close', r));
  }
}

/** mulberry32: a small seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FsxOptions {
  seed: number;
  ops: number;
  /** Directory on the mount where the files live. */
  dir: string;
  files?: number;
  /** Largest offset + length of ordinary operations. */
  maxSize?: number;
  /** Called between operations, e.g. to remount; returns after the mount is back. */
  onCheckpoint?: (opIndex: number) => Promise<void>;
  checkpointEvery?: number;
  log?: (line: string) => void;
}

export interface FsxResult {
  ops: number;
  counts: Record<string, number>;
  /** Milliseconds spent per kind of operation. */
  times: Record<string, number>;
  mismatches: string[];
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Runs the checker. Mismatches are collected (the run stops after the first few, since the model
 * and the file no longer agree); every message names the seed and operation index.
 */
export async function runFsx(opts: FsxOptions): Promise<FsxResult> {
  const rand = rng(opts.seed);
  const nFiles = opts.files ?? 3;
  const maxSize = opts.maxSize ?? 1024 * 1024;
  const int = (n: number): number => Math.floor(rand() * n);
  const models: Buffer[] = Array.from({ length: nFiles }, () => Buffer.alloc(0));
  const open = new Set<number>();
  const counts: Record<string, number> = {};
  const times: Record<string, number> = {};
  const mismatches: string[] = [];
  const history: string[] = [];
  let worker = new Worker();
  const path = (f: number): string => `${opts.dir}/fsx-${f}`;
  const fail = (i: number, what: string): void => {
    mismatches.push(`seed ${opts.seed} op ${i}: ${what}\nlast operations:\n  ${history.slice(-12).join('\n  ')}`);
  };
  const ensureOpen = async (f: number): Promise<void> => {
    if (open.has(f)) return;
    const r = await worker.call({ op: 'open', f, path: path(f) });
    if (r.errno !== undefined) throw new Error(`seed ${opts.seed}: cannot open ${path(f)}: ${r.error}`);
    open.add(f);
  };
  const setSize = (f: number, size: number): void => {
    const m = models[f]!;
    if (size <= m.length) models[f] = m.subarray(0, size);
    else {
      const grown = Buffer.alloc(size);
      m.copy(grown);
      models[f] = grown;
    }
  };
  /** Offset and length of a random operation: mostly small, sometimes chunk-crossing or sparse. */
  const span = (f: number, forRead: boolean): { off: number; len: number } => {
    const size = models[f]!.length;
    const r = rand();
    let off: number;
    let len: number;
    if (forRead) {
      off = size > 0 && r < 0.9 ? int(size) : int(size + 4096);
      len = int(r < 0.5 ? 4096 : 160 * 1024) + 1;
    } else if (r < 0.05) {
      // sparse: far past the end
      off = size + int(maxSize * 2);
      len = int(8192) + 1;
    } else {
      off = int(Math.min(maxSize, size + 65536));
      len = int(r < 0.7 ? 8192 : 160 * 1024) + 1;
    }
    return { off, len };
  };

  try {
    for (let i = 0; i < opts.ops && mismatches.length < 3; i++) {
      if (opts.onCheckpoint && opts.checkpointEvery && i > 0 && i % opts.checkpointEvery === 0) {
        for (const f of open) await worker.call({ op: 'close', f });
        open.clear();
        await worker.quit();
        await opts.onCheckpoint(i);
        worker = new Worker();
        // Everything must have survived.
        for (let f = 0; f < nFiles; f++) {
          const r = await worker.call({ op: 'readall', path: path(f) });
          if (r.errno === 2 && models[f]!.length === 0) continue;
          if (r.len !== models[f]!.length || r.sha !== sha(models[f]!)) fail(i, `after checkpoint, file ${f} has ${r.len ?? r.error} bytes, model ${models[f]!.length} (or content differs)`);
        }
      }
      const f = int(nFiles);
      const roll = rand();
      let op: string;
      if (roll < 0.3) op = 'write';
      else if (roll < 0.55) op = 'read';
      else if (roll < 0.63) op = 'truncate';
      else if (roll < 0.71) op = 'mapread';
      else if (roll < 0.79) op = 'mapwrite';
      else if (roll < 0.805) op = 'fsync';
      else if (roll < 0.92) op = 'close';
      else op = 'stat';
      if (op === 'close' && !open.has(f)) op = 'read';
      counts[op] = (counts[op] ?? 0) + 1;
      if (op !== 'close') await ensureOpen(f);
      const model = (): Buffer => models[f]!;
      const started = performance.now();
      let r: Reply;
      switch (op) {
        case 'write': {
          const { off, len } = span(f, false);
          const seed = int(2 ** 31);
          history.push(`${i} write f${f} off=${off} len=${len} seed=${seed}`);
          r = await worker.call({ op, f, off, len, seed });
          if (off + len > model().length) setSize(f, off + len);
          pattern(seed, len).copy(model(), off);
          if (r.n !== len) fail(i, `write of ${len} bytes wrote ${r.n ?? r.error}`);
          break;
        }
        case 'read': {
          const { off, len } = span(f, true);
          history.push(`${i} read f${f} off=${off} len=${len}`);
          r = await worker.call({ op, f, off, len });
          const expect = model().subarray(Math.min(off, model().length), Math.min(off + len, model().length));
          if (r.len !== expect.length || r.sha !== sha(expect)) {
            const raw = await worker.call({ op, f, off, len, raw: true });
            const got = Buffer.from(raw.raw ?? '', 'base64');
            let at = 0;
            while (at < Math.min(got.length, expect.length) && got[at] === expect[at]) at++;
            fail(i, `read f${f} off=${off} len=${len}: got ${r.len ?? r.error} bytes, expected ${expect.length}; first difference at +${at} (file offset ${off + at})`);
          }
          break;
        }
        case 'truncate': {
          const size = rand() < 0.3 ? 0 : int(maxSize + 65536);
          history.push(`${i} truncate f${f} size=${size}`);
          r = await worker.call({ op, f, size });
          setSize(f, size);
          break;
        }
        case 'mapread': {
          if (model().length === 0) {
            r = await worker.call({ op: 'stat', f });
            break;
          }
          const off = int(model().length);
          const len = Math.min(int(128 * 1024) + 1, model().length - off);
          history.push(`${i} mapread f${f} off=${off} len=${len}`);
          r = await worker.call({ op, f, off, len });
          const expect = model().subarray(off, off + len);
          if (r.len !== expect.length || r.sha !== sha(expect)) fail(i, `mmap read f${f} off=${off} len=${len} differs (got ${r.len ?? r.error} bytes)`);
          break;
        }
        case 'mapwrite': {
          if (model().length === 0) {
            r = await worker.call({ op: 'stat', f });
            break;
          }
          const off = int(model().length);
          const len = Math.min(int(64 * 1024) + 1, model().length - off);
          const seed = int(2 ** 31);
          history.push(`${i} mapwrite f${f} off=${off} len=${len} seed=${seed}`);
          // msync (a durable fsync) only sometimes: unflushed pages reach the filesystem at close.
          r = await worker.call({ op, f, off, len, seed, sync: rand() < 0.05 });
          pattern(seed, len).copy(model(), off);
          break;
        }
        case 'fsync':
          history.push(`${i} fsync f${f}`);
          r = await worker.call({ op, f });
          break;
        case 'close':
          history.push(`${i} close f${f}`);
          r = await worker.call({ op, f });
          open.delete(f);
          r.size = model().length;
          break;
        default:
          history.push(`${i} stat f${f}`);
          r = await worker.call({ op: 'stat', f });
      }
      times[op] = (times[op] ?? 0) + Math.round(performance.now() - started);
      if (r.errno !== undefined) fail(i, `${op} on f${f} failed: ${r.error}`);
      else if (r.size !== undefined && r.size !== null && r.size !== model().length) fail(i, `after ${op}, f${f} has size ${r.size}, model ${model().length}`);
    }
    // Final: every file, read whole through a fresh open.
    for (const f of open) await worker.call({ op: 'close', f });
    open.clear();
    for (let f = 0; f < nFiles; f++) {
      const r = await worker.call({ op: 'readall', path: path(f) });
      if (r.errno === 2 && models[f]!.length === 0) continue;
      if (r.len !== models[f]!.length || r.sha !== sha(models[f]!)) fail(opts.ops, `at the end, file ${f} has ${r.len ?? r.error} bytes, model ${models[f]!.length} (or content differs)`);
    }
  } finally {
    await worker.quit();
  }
  return { ops: opts.ops, counts, times, mismatches };
}
