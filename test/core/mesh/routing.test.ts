// Chain URLs, server lists and the hash ring that picks a chain's home.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, type ChainKey, chainKey, homeOf, parseChainUrl, resolveServers } from '../../../src/core/index.js';

test('chain URLs: hosts with default ports, lists, IPv6; anything else is one clear ConfigError', () => {
  assert.deepEqual(parseChainUrl('tcp://db.example.com/example.com/joe/notes'), {
    servers: [{ host: 'db.example.com', port: 5000 }],
    chain: '/example.com/joe/notes',
  });
  assert.deepEqual(parseChainUrl('tcp://a:5001,b,[::1]:6000/team/'), {
    servers: [
      { host: 'a', port: 5001 },
      { host: 'b', port: 5000 },
      { host: '::1', port: 6000 },
    ],
    chain: '/team',
  });
  for (const bad of ['http://a/x', 'tcp://a', 'tcp://a/', 'a/x', 'tcp:///x', 'tcp://a:99999/x', 'tcp://a/../etc', 'tcp://a/~joe/x', 'tcp://a b/x']) {
    assert.throws(() => parseChainUrl(bad), ConfigError, bad);
  }
});

test('resolveServers: every address of a name, literals as they are, sorted and deduplicated', async () => {
  const servers = await resolveServers([
    { host: '127.0.0.2', port: 5000 },
    { host: 'localhost', port: 5000 },
    { host: '127.0.0.1', port: 5000 },
  ]);
  assert.ok(servers.some((s) => s.host === '127.0.0.1'));
  assert.equal(servers.filter((s) => s.host === '127.0.0.1').length, 1, 'deduplicated');
  const names = servers.map((s) => `${s.host}:${s.port}`);
  assert.deepEqual(names, [...names].sort());
  await assert.rejects(resolveServers([{ host: 'no-such-host.invalid', port: 5000 }]), ConfigError);
});

test('homeOf: deterministic, independent of list order, spreads chains over servers', () => {
  const servers = [5000, 5001, 5002].map((port) => ({ host: '127.0.0.1', port }));
  const counts = new Map<number, number>();
  for (let i = 0; i < 300; i++) {
    const chain = chainKey(`/example.com/user${i}/db`);
    const home = homeOf(chain, servers);
    assert.deepEqual(homeOf(chain, [...servers].reverse()), home);
    counts.set(home.port, (counts.get(home.port) ?? 0) + 1);
  }
  assert.equal(counts.size, 3, `every server hosts some chains: ${[...counts]}`);
  assert.deepEqual(homeOf('/x' as ChainKey, [servers[0]!]), servers[0]);
});

test('homeOf: even shares for any ports (a ring with one point per server left a server empty for one trio in ten), and a removed server moves only its own chains', () => {
  const chains = Array.from({ length: 100 }, (_, i) => chainKey(`/example.com/joe/db${i}`));
  for (let trio = 0; trio < 200; trio++) {
    const servers = [0, 1, 2].map((k) => ({ host: '127.0.0.1', port: 20_000 + ((trio * 7919 + k * 104_729) % 41_000) }));
    const homes = chains.map((c) => homeOf(c, servers));
    for (const s of servers) {
      const share = homes.filter((h) => h === s).length;
      assert.ok(share >= 15, `server ${s.port} of trio ${servers.map((x) => x.port)} is home to ${share} of 100 chains`);
    }
    const remaining = servers.slice(1);
    chains.forEach((c, i) => {
      if (homes[i] !== servers[0]) assert.equal(homeOf(c, remaining), homes[i], 'a chain whose home stays does not move');
    });
  }
});
