// TOTP against the test vectors of RFC 6238 (appendix B, SHA-1) and RFC 4226 (appendix D).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base32, hotp, matchTotp, otpauthUrl, totp } from '../../src/server/auth/totp.js';

const SECRET = new TextEncoder().encode('12345678901234567890');

test('HOTP matches RFC 4226 appendix D', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  expected.forEach((code, counter) => assert.equal(hotp(SECRET, counter), code));
});

test('TOTP matches RFC 6238 appendix B (SHA-1, 8 digits)', () => {
  const vectors: [number, string][] = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];
  for (const [t, code] of vectors) assert.equal(totp(SECRET, t * 1000, 8), code, `T=${t}`);
});

test('a code matches within one step either side, not beyond, and never when malformed', () => {
  const t = 1111111111 * 1000;
  const code = totp(SECRET, t);
  assert.equal(matchTotp(SECRET, code, t), Math.floor(t / 30000));
  assert.notEqual(matchTotp(SECRET, code, t + 30_000), undefined);
  assert.notEqual(matchTotp(SECRET, code, t - 30_000), undefined);
  assert.equal(matchTotp(SECRET, code, t + 90_000), undefined);
  assert.equal(matchTotp(SECRET, '12345', t), undefined);
  assert.equal(matchTotp(SECRET, 'abcdef', t), undefined);
});

test('base32 and the otpauth URL follow RFC 4648 and the key URI format', () => {
  assert.equal(base32(new TextEncoder().encode('foobar')), 'MZXW6YTBOI');
  assert.equal(base32(SECRET), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  const text = otpauthUrl('ATE', 'joe@example.com', SECRET);
  assert.ok(text.startsWith('otpauth://totp/ATE:joe%40example.com?'), text);
  const url = new URL(text);
  assert.equal(url.searchParams.get('secret'), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  assert.equal(url.searchParams.get('issuer'), 'ATE');
});
