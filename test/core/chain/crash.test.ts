import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ChainBuilder, Dio, anonymousSession, generateSignKey, publicSignKey, userSession } from '../../../src/core/index.js';

const seed = new Uint8Array(32).fill(3);
const owner = generateSignKey('ml-dsa-65', seed);
const session = userSession({ writeKeys: [owner] });
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * A writer process: commits A and waits for its signature, then commits B durably and says
 * "ready" before B's signature can be made (signatures start at most once a minute here).
 */
const writer = (core: string) => `
import { ChainBuilder, Dio, generateSignKey, publicSignKey, userSession } from ${JSON.stringify(core)};
const owner = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(3));
const session = userSession({ writeKeys: [owner] });
const builder = new ChainBuilder({ logPath: process.argv[2], signIntervalMs: 60000 }).addRootPublicKey(publicSignKey(owner)).setSession(session);
const chain = await builder.open('crash');
const a = new Dio(chain, session, 'full');
for (let i = 0; i < 10; i++) a.store({ batch: 'a', i });
await a.commit();
await chain.sync();
const b = new Dio(chain, session, 'full');
for (let i = 0; i < 10; i++) b.store({ batch: 'b', i });
await b.commit();
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`;

async function crashAfterDurableCommit(logPath: string): Promise<void> {
  const script = join(logPath, '..', `writer-${process.pid}.mjs`);
  await writeFile(script, writer(new URL('../../../src/core/index.js', import.meta.url).href));
  const child = spawn(process.execPath, [script, logPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited with ${code}`))));
  });
  await new Promise((r) => child.on('close', r));
}

async function values(chain: Awaited<ReturnType<ChainBuilder['open']>>): Promise<string[]> {
  const dio = new Dio(chain, anonymousSession());
  const out: string[] = [];
  for (const key of chain.view.objects.keys()) out.push((await dio.load<{ batch: string; i: number }>(key)).value.batch);
  return out.sort();
}

test('kill -9 after a durable commit: the commit is there, its signature is made on reopen', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ate-crash-'));
  dirs.push(root);
  const logPath = join(root, 'logs');
  await crashAfterDurableCommit(logPath);

  // A copy whose last write was torn: its final seal is gone.
  const torn = join(root, 'torn');
  await cp(logPath, torn, { recursive: true });

  const builder = new ChainBuilder({ logPath }).addRootPublicKey(publicSignKey(owner)).setSession(session);
  const chain = await builder.open('crash');
  assert.deepEqual(await values(chain), [...Array(10).fill('a'), ...Array(10).fill('b')]);
  assert.equal(chain.unsignedCount, 10, "B's events are durable but were never signed");
  await chain.sync();
  assert.equal(chain.unsignedCount, 0);
  const history: Uint8Array[] = [];
  for await (const e of chain.history()) history.push(e);
  const peer = await new ChainBuilder().addRootPublicKey(publicSignKey(owner)).open('crash');
  const result = peer.ingest(history, { origin: 'remote' });
  assert.deepEqual({ parked: result.parked, errors: result.errors.length }, { parked: 0, errors: 0 });
  assert.equal(peer.view.objects.size, 20);
  await peer.close();
  await builder.close();

  const dir = join(torn, 'crash.log');
  const segment = join(dir, (await readdir(dir)).find((f) => f.endsWith('.seg'))!);
  await truncate(segment, (await stat(segment)).size - 81);
  const warnings: string[] = [];
  const again = await new ChainBuilder({ logPath: torn })
    .addRootPublicKey(publicSignKey(owner))
    .setSession(session)
    .onWarning((m) => warnings.push(m))
    .open('crash');
  assert.deepEqual(await values(again), Array(10).fill('a'), 'the unsealed, unsigned tail is dropped');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /dropped 10 unsigned event/);
  await again.close();
});
