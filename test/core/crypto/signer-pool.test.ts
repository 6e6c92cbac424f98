import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AteError, ClosedError, ConfigError } from '../../../src/core/errors.js';
import { generateSignKey, publicSignKey, verify } from '../../../src/core/crypto/sign.js';
import { SignerPool, defaultSignerPool } from '../../../src/core/crypto/signer-pool.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('SignerPool', () => {
  it('signs off the main thread; the signatures verify', async () => {
    const pool = new SignerPool();
    try {
      const key = generateSignKey();
      const pub = publicSignKey(key);
      const msgs = ['a', 'b', 'c'].map(utf8);
      const sigs = await Promise.all(msgs.map((m) => pool.signAsync(key, m)));
      sigs.forEach((sig, i) => assert.equal(verify(pub, msgs[i]!, sig), true));
      assert.equal(await pool.verifyAsync(pub, msgs[0]!, sigs[0]!), true);
      assert.equal(await pool.verifyAsync(pub, msgs[1]!, sigs[0]!), false);
      assert.equal(await pool.verifyAsync(pub, msgs[0]!, new Uint8Array(7)), false);
    } finally {
      await pool.close();
    }
  });

  it('spreads jobs over several workers and handles both algorithms', async () => {
    const pool = new SignerPool({ workers: 2 });
    try {
      const keys = [generateSignKey('ml-dsa-65'), generateSignKey('falcon-512', new Uint8Array(32))];
      const jobs = Array.from({ length: 6 }, (_, i) => ({ key: keys[i % 2]!, msg: utf8(`m${i}`) }));
      const sigs = await Promise.all(jobs.map((j) => pool.signAsync(j.key, j.msg)));
      jobs.forEach((j, i) => assert.equal(verify(publicSignKey(j.key), j.msg, sigs[i]!), true));
    } finally {
      await pool.close();
    }
  });

  it('close() fails running jobs and later ones with ClosedError', async () => {
    const pool = new SignerPool();
    const running = assert.rejects(pool.signAsync(generateSignKey(), utf8('x')), ClosedError);
    await pool.close();
    await running;
    await assert.rejects(pool.signAsync(generateSignKey(), utf8('y')), ClosedError);
    assert.equal(pool.closed, true);
    await pool.close(); // idempotent
  });

  it('a failing job rejects with AteError and the worker keeps serving', async () => {
    const pool = new SignerPool();
    try {
      const good = generateSignKey();
      const broken = { ...good, secretKey: new Uint8Array(3) };
      await assert.rejects(pool.signAsync(broken, utf8('x')), (e: unknown) => e instanceof AteError && /signing failed/.test(e.message));
      assert.equal(verify(publicSignKey(good), utf8('y'), await pool.signAsync(good, utf8('y'))), true);
    } finally {
      await pool.close();
    }
  });

  it('rejects a bad worker count', () => {
    assert.throws(() => new SignerPool({ workers: 0 }), ConfigError);
  });

  it('defaultSignerPool is a singleton, replaced once closed', async () => {
    const a = defaultSignerPool();
    assert.equal(defaultSignerPool(), a);
    await a.close();
    const b = defaultSignerPool();
    assert.notEqual(b, a);
    await b.close();
  });

  it('an idle pool never keeps the process alive', async () => {
    // A child signs through the default pool and never closes it; it must still exit by itself.
    const index = new URL('../../../src/core/crypto/index.js', import.meta.url).href;
    const code = `
      import { defaultSignerPool, generateSignKey, publicSignKey, verify } from ${JSON.stringify(index)};
      const k = generateSignKey();
      const m = new Uint8Array([1, 2, 3]);
      const sig = await defaultSignerPool().signAsync(k, m);
      console.log(verify(publicSignKey(k), m, sig));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { timeout: 15_000 });
    assert.equal(stdout.trim(), 'true');
  });
});
