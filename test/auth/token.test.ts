// Tokens: a signed session with an expiry; every way a token can be wrong has its own error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import {
  TokenExpiredError,
  TokenForgedError,
  TokenIssuerError,
  TokenMalformedError,
  decodeSession,
  encodeSession,
  generateReadKeyPair,
  generateSignKey,
  generateSymmetricKey,
  issueToken,
  parseToken,
  publicSignKey,
  role,
  verifyToken,
  type AteSession,
} from '../../src/core/index.js';

const server = generateSignKey();
const other = generateSignKey();
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const issuer = { key: publicSignKey(server), name: 'the auth server at tcp://127.0.0.1:5001/' };

const session: AteSession = {
  user: role('owner', { readKeys: [generateSymmetricKey()], privateReadKeys: [generateReadKeyPair()], writeKeys: [generateSignKey()], identity: 'joe@example.com', uid: 2 ** 31 + 5 }),
  groups: [{ name: 'team', roles: [role('contributor', { readKeys: [generateSymmetricKey()], identity: 'team', gid: 3 * 2 ** 30 })] }],
};

test('a session encodes and decodes to the same keys', () => {
  assert.deepEqual(decodeSession(encodeSession(session)), session);
});

test('a token verifies with its issuer and carries session, issue time and expiry', () => {
  const text = issueToken(session, server, { now: 1000, validForMs: 5000 });
  assert.match(text, /^ate-token:[A-Za-z0-9_-]+$/);
  const claims = verifyToken(text, issuer, 2000);
  assert.deepEqual(claims.session, session);
  assert.equal(claims.issuedAt, 1000);
  assert.equal(claims.expiresAt, 6000);
  // A trailing newline (a token file) is fine.
  assert.equal(verifyToken(`${text}\n`, issuer, 2000).expiresAt, 6000);
});

test('the default validity is 30 days, and notAfter caps it', () => {
  const t = parseToken(issueToken(session, server, { now: 0 }));
  assert.equal(t.claims.expiresAt, 30 * 86_400_000);
  assert.equal(parseToken(issueToken(session, server, { now: 0, notAfter: 10 })).claims.expiresAt, 10);
});

test('expired, forged, foreign and malformed tokens each fail with their own error', () => {
  const text = issueToken(session, server, { now: 1000, validForMs: 5000 });
  assert.throws(() => verifyToken(text, issuer, 6000), TokenExpiredError);
  assert.throws(() => verifyToken(text, issuer, 6000), /the token expired on 1970-01-01T00:00:06.000Z/);
  assert.throws(() => verifyToken(issueToken(session, other), issuer), TokenIssuerError);
  assert.throws(() => verifyToken(issueToken(session, other), issuer), /issued by another auth server .* not by the auth server at tcp:\/\/127\.0\.0\.1:5001\//);
  // A token re-signed by someone else but claiming the real issuer: the signature fails.
  const t = parseToken(issueToken(session, other));
  const claims = packr.unpack(t.body);
  claims.iss = packr.unpack(parseToken(text).body).iss;
  const forgedBody = packr.pack(claims);
  const forged = `ate-token:${Buffer.from(packr.pack([1, forgedBody, t.signature])).toString('base64url')}`;
  assert.throws(() => verifyToken(forged, issuer), TokenForgedError);
  // One flipped bit in the signature.
  const raw = packr.unpack(Buffer.from(text.slice('ate-token:'.length), 'base64url'));
  raw[2][10] ^= 1;
  assert.throws(() => verifyToken(`ate-token:${Buffer.from(packr.pack(raw)).toString('base64url')}`, issuer, 2000), TokenForgedError);
  for (const bad of ['', 'hello', 'ate-token:', 'ate-token:!!!', 'ate-token:AAAA', text.slice(0, 200)]) {
    assert.throws(() => verifyToken(bad, issuer), TokenMalformedError, JSON.stringify(bad));
  }
});
