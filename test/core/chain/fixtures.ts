// Shared by the chain tests: temp dirs removed after the file's tests, fixed keys, history.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type Chain, generateSignKey, userSession } from '../../../src/core/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

export async function tempDir(prefix = 'ate-chain-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Deterministic keys, so failures reproduce. */
export const owner = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(7));
export const stranger = generateSignKey('ml-dsa-65', new Uint8Array(32).fill(9));
export const ownerSession = userSession({ writeKeys: [owner] });
export const strangerSession = userSession({ writeKeys: [stranger] });

/** The bytes of every event of a chain, in log order. */
export async function history(chain: Chain): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const e of chain.history()) out.push(e);
  return out;
}
