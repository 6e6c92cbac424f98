// Three atedb servers started with one --servers list: each chain is hosted by exactly one of
// them (its home on the hash ring), and the others refuse it naming the home.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainKey, homeOf } from '../../src/core/index.js';
import { TestClient, freePort, startAtedb } from './helpers.js';

test('three servers, one --servers list: every chain lives on exactly one, the others answer not-this-root with its home', async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  const list = ports.map((p) => `127.0.0.1:${p}`).join(',');
  const servers = await Promise.all(ports.map((port) => startAtedb({ args: ['--no-auth', '--servers', list, '--listen-as', `127.0.0.1:${port}`], port })));
  const clients = await Promise.all(servers.map((s) => TestClient.connect(s.port)));
  const ring = ports.map((port) => ({ host: '127.0.0.1', port }));
  const hosted = new Map<number, number>();
  for (let i = 0; i < 12; i++) {
    const chain = `/example.com/user${i}/db`;
    const home = homeOf(chainKey(chain), ring);
    for (const [n, s] of servers.entries()) {
      // One connection per chain: a fresh client for each subscribe.
      const c = n === 0 && i === 0 ? clients[0]! : await TestClient.connect(s.port);
      if (s.port === home.port) {
        const { start } = await c.subscribe(chain);
        assert.equal(start.chain, chain);
        hosted.set(s.port, (hosted.get(s.port) ?? 0) + 1);
      } else {
        const r = await c.refusal(chain);
        assert.equal(r.code, 'not-this-root', chain);
        assert.equal(r.home, `127.0.0.1:${home.port}`);
      }
      c.wire.close();
    }
  }
  assert.ok(hosted.size >= 2, `chains spread over the servers: ${[...hosted]}`);
});

test('a server that is not in its own --servers list refuses to start, in one line', async () => {
  const port = await freePort();
  await assert.rejects(startAtedb({ args: ['--no-auth', '--servers', '127.0.0.1:1,127.0.0.1:2', '--listen-as', `127.0.0.1:${port}`], port, timeoutMs: 20_000 }), (err: Error) => {
    assert.match(err.message, /exited with 2/);
    assert.match(err.message, /atedb: this server is not in --servers/);
    assert.doesNotMatch(err.message, /\n\s+at /);
    return true;
  });
});
