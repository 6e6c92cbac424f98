import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KeyMap, KeySet } from '../../../src/core/chain/key-table.js';
import { type PrimaryKey, primaryKey } from '../../../src/core/event/ids.js';

// Few distinct keys, so that operations hit the same keys again; some share their low or high
// word, and small tables wrap their probe runs around the end.
const keyArb = fc
  .tuple(fc.constantFrom(0, 1, 0xffffffff, 0x12345678), fc.integer({ min: 0, max: 40 }))
  .map(([hi, lo]) => primaryKey(hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')));

type Op = { op: 'set' | 'delete' | 'get'; key: PrimaryKey; value: number };
const opArb: fc.Arbitrary<Op> = fc.record({ op: fc.constantFrom('set', 'set', 'delete', 'get'), key: keyArb, value: fc.integer() });

test('KeyMap behaves as a Map under random sets, deletes and gets', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
      const model = new Map<PrimaryKey, number>();
      const map = new KeyMap<number>();
      for (const { op, key, value } of ops) {
        if (op === 'set') (model.set(key, value), map.set(key, value));
        else if (op === 'delete') assert.equal(map.delete(key), model.delete(key));
        else assert.equal(map.get(key), model.get(key));
        assert.equal(map.size, model.size);
      }
      for (const [key, value] of model) assert.equal(map.get(key), value);
      assert.deepEqual([...map].sort(), [...model].sort());
      assert.deepEqual([...map.keys()].sort(), [...model.keys()].sort());
    }),
    { numRuns: 500 },
  );
});

test('KeySet behaves as a Set under random adds and deletes', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
      const model = new Set<PrimaryKey>();
      const set = new KeySet();
      for (const { op, key } of ops) {
        if (op === 'set') (model.add(key), set.add(key));
        else if (op === 'delete') assert.equal(set.delete(key), model.delete(key));
        else assert.equal(set.has(key), model.has(key));
      }
      assert.equal(set.size, model.size);
      assert.deepEqual([...set].sort(), [...model].sort());
    }),
    { numRuns: 500 },
  );
});

test('a KeyMap holds 100,000 random keys, loses none on deletes, and iterates a snapshot', () => {
  const map = new KeyMap<number>();
  const keys: PrimaryKey[] = [];
  for (let i = 0; i < 100_000; i++) {
    const key = primaryKey(Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0') + i.toString(16).padStart(8, '0'));
    keys.push(key);
    map.set(key, i);
  }
  for (let i = 0; i < keys.length; i += 2) assert.ok(map.delete(keys[i]!));
  assert.equal(map.size, 50_000);
  for (let i = 0; i < keys.length; i++) assert.equal(map.get(keys[i]!), i % 2 === 0 ? undefined : i);
  // Changes made while iterating do not disturb the iteration.
  let seen = 0;
  for (const [key] of map) {
    map.delete(key);
    seen++;
  }
  assert.equal(seen, 50_000);
  assert.equal(map.size, 0);
  map.set(keys[0]!, 7);
  map.clear();
  assert.equal(map.get(keys[0]!), undefined);
  assert.equal(map.size, 0);
});

test('a ranked KeySet iterates in rank order, small (an array) and large (a table)', () => {
  for (const n of [5, 50]) {
    const keys = Array.from({ length: n }, (_, i) => primaryKey(((i * 2654435761) >>> 0).toString(16).padStart(16, '0')));
    const rankOf = new Map(keys.map((k, i) => [k, i]));
    const set = new KeySet((k) => rankOf.get(k)!);
    for (const k of [...keys].reverse()) set.add(k);
    set.delete(keys[1]!);
    assert.deepEqual([...set], keys.filter((_, i) => i !== 1));
    assert.equal(set.size, n - 1);
    assert.ok(set.has(keys[0]!) && !set.has(keys[1]!));
  }
});
