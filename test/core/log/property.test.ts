// Property tests: random histories against a model array, and random damage to a log's files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { openFileLog, openMemoryLog, type LogPosition, type RedoLog } from '../../../src/core/log/index.js';
import { LogCorruptError, LogForeignFileError } from '../../../src/core/errors.js';
import { CHAIN, KEY, collect, withDir } from './helpers.js';

type Cmd =
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'flush'; durable: boolean }
  | { op: 'rotate' }
  | { op: 'reopen' }
  | { op: 'replay' }
  | { op: 'rewrite'; keep: boolean[] };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ op: 'append' as const, bytes })) },
  { weight: 2, arbitrary: fc.boolean().map((durable) => ({ op: 'flush' as const, durable })) },
  { weight: 1, arbitrary: fc.constant({ op: 'rotate' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'replay' as const }) },
  { weight: 1, arbitrary: fc.array(fc.boolean(), { maxLength: 60 }).map((keep) => ({ op: 'rewrite' as const, keep })) },
);

test('random histories: file and memory logs replay exactly the model, at the same positions', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(cmd, { maxLength: 40 }), fc.boolean(), (cmds, keyed) =>
      withDir(async (dir) => {
        const opts = { chainKey: CHAIN, segmentBytes: 700, sealKey: keyed ? KEY : undefined };
        const path = join(dir, 'log');
        let file: RedoLog = await openFileLog(path, opts);
        const memory = openMemoryLog(opts);
        let model: Array<{ bytes: Uint8Array; pos: LogPosition }> = [];
        try {
          for (const c of cmds) {
            if (c.op === 'append') {
              const pos = file.append(c.bytes);
              assert.deepEqual(memory.append(c.bytes), pos);
              model.push({ bytes: c.bytes, pos });
            } else if (c.op === 'flush') {
              await Promise.all([file.flush(c), memory.flush(c)]);
            } else if (c.op === 'rotate') {
              await Promise.all([file.rotate(), memory.rotate()]);
            } else if (c.op === 'reopen') {
              await file.close();
              file = await openFileLog(path, opts);
              await memory.flush(); // what close does, so that the layouts stay equal
            } else if (c.op === 'replay') {
              for (const log of [file, memory]) {
                assert.deepEqual((await collect(log)).map((e) => e.pos), model.map((e) => e.pos));
              }
            } else {
              const kept = model.filter((_, i) => c.keep[i]).map((e) => e.bytes);
              const header = { chainKey: CHAIN, cutOff: 5 };
              const [positions, same] = await Promise.all([file.rewrite(kept, header), memory.rewrite(kept, header)]);
              assert.deepEqual(same, positions);
              model = kept.map((bytes, i) => ({ bytes, pos: positions[i]! }));
            }
          }
          for (const log of [file, memory]) {
            const replayed = await collect(log);
            assert.deepEqual(replayed.map((e) => e.pos), model.map((e) => e.pos));
            assert.deepEqual(replayed.map((e) => e.bytes), model.map((e) => Buffer.from(e.bytes)));
            assert.ok(replayed.every((e) => e.sealed === keyed));
            assert.equal(log.count, model.length);
            for (const e of model.filter((_, i) => i % 5 === 0)) assert.deepEqual(Buffer.from(await log.read(e.pos)), Buffer.from(e.bytes));
          }
          assert.equal(file.size, memory.size);
        } finally {
          await file.close();
        }
      }),
    ),
    { numRuns: 60 },
  );
});

type Damage = { file: number; kind: 'flip' | 'truncate' | 'overwrite'; at: number; value: number; length: number };

const damage: fc.Arbitrary<Damage> = fc.record({
  file: fc.nat(),
  kind: fc.constantFrom('flip' as const, 'truncate' as const, 'overwrite' as const),
  at: fc.nat(),
  value: fc.integer({ min: 1, max: 255 }),
  length: fc.integer({ min: 1, max: 40 }),
});

test('random damage: a log opens with a prefix of its events, or reports corrupt or foreign', () =>
  withDir(async (dir) => {
    const models: Array<{ path: string; sealKey: Uint8Array | undefined; events: Buffer[] }> = [];
    for (const sealKey of [undefined, KEY]) {
      const path = join(dir, sealKey ? 'keyed' : 'plain');
      const log = await openFileLog(path, { chainKey: CHAIN, sealKey, segmentBytes: 600 });
      const events = Array.from({ length: 40 }, (_, i) => Buffer.alloc(10 + ((i * 37) % 90), i + 1));
      for (const [i, e] of events.entries()) {
        log.append(e);
        if (i % 7 === 6) await log.flush();
      }
      await log.close();
      models.push({ path, sealKey, events });
    }
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), damage, async (which, d) => {
        const model = models[which]!;
        const path = join(dir, `case-${n++}`);
        await cp(model.path, path, { recursive: true });
        try {
          const names = (await readdir(path)).sort();
          const file = join(path, names[d.file % names.length]!);
          const buf = await readFile(file);
          const at = d.at % Math.max(buf.length, 1);
          if (d.kind === 'flip') buf[at] = buf[at]! ^ d.value;
          const damaged = d.kind === 'truncate' ? buf.subarray(0, at) : buf;
          if (d.kind === 'overwrite') damaged.fill(d.value, at, Math.min(at + d.length, damaged.length));
          await writeFile(file, damaged);
          let replayed: Buffer[];
          try {
            const log = await openFileLog(path, { chainKey: CHAIN, sealKey: model.sealKey, segmentBytes: 600 });
            try {
              replayed = (await collect(log)).map((e) => e.bytes);
            } finally {
              await log.close();
            }
          } catch (e) {
            assert.ok(e instanceof LogCorruptError || e instanceof LogForeignFileError, `unexpected ${String(e)}`);
            return;
          }
          assert.deepEqual(replayed, model.events.slice(0, replayed.length), 'a prefix, byte for byte');
          assert.ok((await stat(path)).isDirectory());
        } finally {
          await rm(path, { recursive: true, force: true });
        }
      }),
      { numRuns: 300 },
    );
  }));
