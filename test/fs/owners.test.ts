import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Owners } from '../../src/fs/owners.js';

test('without global ids, owners are stored and shown as they are', () => {
  const o = new Owners(1000, 100);
  assert.deepEqual([o.newUid, o.newGid], [1000, 100]);
  assert.deepEqual([o.storedUid(1000), o.storedGid(5), o.shownUid(7), o.shownGid(100)], [1000, 5, 7, 100]);
});

test('--impersonate-uid: the local owner is stored as the global ids and shown back as local', () => {
  const o = new Owners(1000, 100, { uid: 2_500_000, gid: 3_000_000 });
  assert.deepEqual([o.newUid, o.newGid], [2_500_000, 3_000_000]);
  assert.deepEqual([o.shownUid(2_500_000), o.shownGid(3_000_000)], [1000, 100]);
  // Other owners pass through both ways.
  assert.deepEqual([o.storedUid(0), o.shownUid(0), o.storedGid(42), o.shownGid(42)], [0, 0, 42, 42]);
  assert.deepEqual([o.storedUid(1000), o.storedGid(100)], [2_500_000, 3_000_000]);
});

test('a token without a gid maps the uid only', () => {
  const o = new Owners(1000, 100, { uid: 2_500_000 });
  assert.deepEqual([o.newUid, o.newGid, o.shownGid(100), o.storedGid(100)], [2_500_000, 100, 100, 100]);
});
