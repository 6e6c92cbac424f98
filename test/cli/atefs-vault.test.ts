// The embedded vault's bad inputs, which atefs catches before it mounts anything: a wrong or
// missing passcode, a damaged or foreign key file, lost metadata, a corrupt log.
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Dio, encodeKeyText, generateSymmetricKey } from '../../src/core/index.js';
import { parseCompactMode } from '../../src/core/chain/config.js';
import { vaultNameFor } from '../../src/cli/atefs/paths.js';
import { vaultChainBuilder } from '../../src/cli/atefs/serve.js';
import { CHAIN_NAME, KEY_FILE, LOG_NAME, META_FILE, openVault, readVaultMeta } from '../../src/cli/atefs/vault.js';
import { assertOneLine, withSandbox, type Sandbox } from './helpers.js';

/** Creates the vault of `mnt` the way atefs does; its directory. */
async function createVault(s: Sandbox, mnt: string, passcode?: string): Promise<string> {
  const dir = join(s.data, 'ate', vaultNameFor(mnt));
  await openVault(dir, mnt, undefined, passcode ? { passcode: { passcode, from: 'ATE_PASSCODE' } } : {});
  return dir;
}

test('the vault directory, metadata and key file are created owner-only', () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    const dir = await createVault(s, mnt);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, META_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
    assert.match(await readFile(join(dir, KEY_FILE), 'utf8'), /^ate-key:symmetric:/);
    const meta = await readVaultMeta(dir);
    assert.equal(meta?.key, 'key-file');
    assert.equal(meta?.mountPoint, mnt);
    // Opening again gives the same keys.
    const a = await openVault(dir, mnt, meta, {});
    const b = await openVault(dir, mnt, meta, {});
    assert.deepEqual(a.vaultKey, b.vaultKey);
    assert.deepEqual(a.writeKey.publicKey, b.writeKey.publicKey);
  }));

test('a passcode vault: a wrong passcode is refused up front; the right one opens it', () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    const dir = await createVault(s, mnt, 'correct horse');
    const meta = await readVaultMeta(dir);
    assert.equal(meta?.key, 'passcode');
    assert.equal(meta?.kdf?.alg, 'scrypt');
    await assert.rejects(openVault(dir, mnt, meta, { passcode: { passcode: 'wrong', from: '--passcode' } }), /wrong passcode/);
    const ok = await openVault(dir, mnt, meta, { passcode: { passcode: 'correct horse', from: '--passcode' } });
    assert.equal(ok.source.kind, 'passcode');

    assertOneLine(await s.run(['mount', mnt], { ATE_PASSCODE: 'battery staple' }), 1, new RegExp(`^atefs: wrong passcode for the vault at ${mnt} \\(given by ATE_PASSCODE\\)$`));
    assertOneLine(await s.run(['mount', mnt, '-p', 'nope']), 1, /wrong passcode for the vault at .* \(given by --passcode\)$/);
    // No passcode and no terminal to ask on.
    assertOneLine(await s.run(['mount', mnt]), 1, /the vault at .* is locked by a passcode: give it with ATE_PASSCODE=... or --passcode/);
    // Nothing was left behind by the refused mounts.
    assert.deepEqual((await readdir(dir)).sort(), [META_FILE]);
  }));

test('a key-file vault refuses a passcode, a damaged, foreign, unreadable or missing key file', () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    const dir = await createVault(s, mnt);
    const keyFile = join(dir, KEY_FILE);
    const good = await readFile(keyFile, 'utf8');

    assertOneLine(await s.run(['mount', mnt], { ATE_PASSCODE: 'x' }), 2, /is opened by its key file .*, not by a passcode; leave out ATE_PASSCODE/);

    await writeFile(keyFile, 'not a key\n');
    assertOneLine(await s.run(['mount', mnt]), 1, /the key file .*vault\.key is not a vault key \(.*\); restore it from your backup/);

    await writeFile(keyFile, `${encodeKeyText({ kind: 'symmetric', key: generateSymmetricKey() })}\n`);
    assertOneLine(await s.run(['mount', mnt]), 1, /the key file .* does not open the vault at .* \(it belongs to another vault\)/);

    await rm(keyFile);
    await mkdir(keyFile);
    assertOneLine(await s.run(['mount', mnt]), 1, /cannot read the key file .*vault\.key \(EISDIR\)/);

    await rm(keyFile, { recursive: true });
    assertOneLine(await s.run(['mount', mnt]), 1, /the key file .* is missing; restore it from your backup/);

    await writeFile(keyFile, good, { mode: 0o600 });
    await writeFile(join(dir, META_FILE), '{ not json');
    assertOneLine(await s.run(['mount', mnt]), 1, /the vault metadata .*vault\.json is damaged \(not JSON\)/);
    await chmod(keyFile, 0o600);
  }));

test('a log whose vault.json is lost is refused, never replaced by a new vault', () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    const dir = await createVault(s, mnt, 'pass');
    await mkdir(join(dir, LOG_NAME));
    await rm(join(dir, META_FILE));
    assertOneLine(await s.run(['mount', mnt], { ATE_PASSCODE: 'pass' }), 1, /holds a vault log but its vault\.json .* is missing; restore it from a backup/);
  }));

test('a corrupt local log: the engine names file and offset, atefs prints that one line', () =>
  withSandbox(async (s) => {
    const mnt = await s.dir('mnt');
    const dir = await createVault(s, mnt);
    const vault = await openVault(dir, mnt, await readVaultMeta(dir), {});
    const plan = { temp: false, compactMode: parseCompactMode('never'), compactBootstrap: false, configuredFor: 'best-performance' as const };
    // Write a few objects the way the filesystem would (a root, then children).
    const builder = vaultChainBuilder(plan, vault).disableNewRoots(false);
    const chain = await builder.open(CHAIN_NAME);
    const readers = [{ kind: 'symmetric' as const, key: vault.vaultKey }];
    const setup = new Dio(chain, { user: { purpose: 'owner', readKeys: [vault.vaultKey], privateReadKeys: [], publicReadKeys: [], writeKeys: [vault.writeKey] }, groups: [] }, 'full');
    for (let i = 0; i < 20; i++) setup.store({ name: `file ${i}`, body: 'x'.repeat(200) }, { readers });
    await setup.commit();
    await builder.close();

    const logDir = join(dir, LOG_NAME);
    const segments = (await readdir(logDir)).filter((n) => n.endsWith('.seg')).sort();
    assert.ok(segments.length > 0, 'the log has a segment');
    const seg = join(logDir, segments[0]!);
    const bytes = await readFile(seg);
    const at = Math.floor(bytes.length / 3);
    bytes[at] = bytes[at]! ^ 0xff;
    await writeFile(seg, bytes);

    const r = await s.run(['mount', mnt]);
    assertOneLine(r, 1, /vault\.log.* is corrupt at byte offset \d+ \(.*\); restore it from a replica or backup/);
  }));
