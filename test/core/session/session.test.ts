import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ChainBuilder,
  Dio,
  MissingReadKeyError,
  appendSession,
  generateReadKeyPair,
  generateSignKey,
  generateSymmetricKey,
  gid,
  identity,
  privateReadKeys,
  publicReadKey,
  readKeys,
  role,
  uid,
  userSession,
  writeKeys,
  type AteSession,
} from '../../../src/core/index.js';

test('a session unites the keys of its user, sudo and group roles', () => {
  const userKey = generateSymmetricKey();
  const sudoWrite = generateSignKey('falcon-512');
  const groupKey = generateSymmetricKey();
  const groupKem = generateReadKeyPair();
  const session: AteSession = {
    user: role('owner', { readKeys: [userKey], identity: 'alice@example.com', uid: 1000, gid: 1000 }),
    sudo: role('owner', { writeKeys: [sudoWrite], identity: 'alice@example.com' }),
    groups: [{ name: 'team', roles: [role('observer', { readKeys: [groupKey] }), role('contributor', { privateReadKeys: [groupKem] })] }],
  };
  assert.deepEqual(readKeys(session), [userKey, groupKey]);
  assert.deepEqual(privateReadKeys(session), [groupKem]);
  assert.deepEqual(writeKeys(session), [sudoWrite]);
  assert.equal(identity(session), 'alice@example.com');
  assert.equal(uid(session), 1000);
  assert.equal(gid(session), 1000);
});

test('appending sessions merges keys and groups of the same name', () => {
  const a = userSession({ readKeys: [generateSymmetricKey()], identity: 'a' });
  const b: AteSession = { user: role('owner', { readKeys: [generateSymmetricKey()] }), groups: [{ name: 'g', roles: [role('observer')] }] };
  const c: AteSession = { user: role('owner'), groups: [{ name: 'g', roles: [role('contributor')] }] };
  const merged = appendSession(appendSession(a, b), c);
  assert.equal(readKeys(merged).length, 2);
  assert.equal(identity(merged), 'a');
  assert.deepEqual(
    merged.groups.map((g) => [g.name, g.roles.map((r) => r.purpose)]),
    [['g', ['observer', 'contributor']]],
  );
});

test('a group role key opens what is shared with the group', async () => {
  const chain = await new ChainBuilder().open('groups');
  const teamKem = generateReadKeyPair();
  const writer = userSession({});
  const dio = new Dio(chain, writer);
  const doc = dio.store({ text: 'for the team' }, { readers: [{ kind: 'public', key: publicReadKey(teamKem) }] });
  await dio.commit();
  const member: AteSession = { user: role('owner'), groups: [{ name: 'team', roles: [role('observer', { privateReadKeys: [teamKem] })] }] };
  assert.equal((await new Dio(chain, member).load<{ text: string }>(doc.key)).value.text, 'for the team');
  await assert.rejects(new Dio(chain, writer).load(doc.key), MissingReadKeyError, 'the writer holds no reader key');
  await chain.close();
});
