// The embedded vault: a chain log in a directory, a small metadata file beside it (vault.json:
// which key opens the vault, the passcode's salt, a check value) and, without a passcode, a key
// file (vault.key). Everything is created on first use, owner-only.
//
// Keys. The vault key (symmetric) encrypts; the write key (ML-DSA-65) signs. The write key is
// derived from the vault key, so the passcode (or the key file) alone opens everything. A wrong
// passcode or a foreign key file is caught by the check value before anything is mounted.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_KDF,
  type KdfParams,
  type PrivateSignKey,
  type SymmetricKey,
  derivePasswordKey,
  decodeKeyText,
  encodeKeyText,
  equalBytes,
  generateSignKey,
  generateSymmetricKey,
  keyFromSeed,
  newSalt,
} from '../../core/crypto/index.js';
import { KeyFormatError } from '../../core/errors.js';
import { CliError, UsageError } from '../run.js';
import { shown } from './paths.js';
import { writeFileAtomic } from '../../core/files.js';

/** The chain's name: its log is <vault dir>/vault.log. */
export const CHAIN_NAME = 'vault';
export const META_FILE = 'vault.json';
export const KEY_FILE = 'vault.key';
export const LOG_NAME = `${CHAIN_NAME}.log`;

/**
 * The chain's cache of stored events, for a mounted vault: the filesystem keeps decrypted chunks in
 * its own cache, so this one only needs room for metadata-sized events (RSS budget of issue 4).
 */
export const VAULT_LOAD_CACHE_BYTES = 4 * 1024 * 1024;

/**
 * How long a local vault gathers events into one signature. A durable write (fsync) does not wait
 * for it, and on these machines a signing round every 25 ms took 30-40% of a core away from the
 * filesystem (measured: tar x of 5,000 files 19.2 s at 25 ms, 14.6 s at 500 ms; at 250 ms the
 * signing worker still used 9% of the daemon's CPU during tar x). Nobody else reads a local
 * vault's events, so only the unmount waits for the last signature. Remote vaults keep the
 * chain's default: a peer applies an event only once its signature arrives.
 */
export const VAULT_SIGN_INTERVAL_MS = 1000;

const FORMAT = 'atefs-vault';
const VERSION = 1;

export interface VaultMeta {
  readonly format: typeof FORMAT;
  readonly version: number;
  /** 'passcode': the vault key is scrypt(passcode, salt); 'key-file': it is in vault.key. */
  readonly key: 'passcode' | 'key-file';
  readonly kdf?: { readonly alg: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string };
  /** base64 of keyFromSeed(vault key, 'atefs/vault-check'): tells a wrong key from the right one. */
  readonly check: string;
  readonly created: string;
  /** The mount point the vault was created for (informative). */
  readonly mountPoint?: string;
}

export interface VaultKeys {
  readonly vaultKey: SymmetricKey;
  readonly writeKey: PrivateSignKey;
}

/** Which secret opened the vault, for the summary line. */
export type KeySource =
  | { readonly kind: 'passcode'; readonly from: PasscodeOrigin }
  | { readonly kind: 'key-file'; readonly path: string }
  | { readonly kind: 'temporary' }
  /** A remote chain on an atedb with auth: the token's keys (and the group's, gathered). */
  | { readonly kind: 'token'; readonly from: string; readonly group?: string };

export type PasscodeOrigin = '--passcode' | 'ATE_PASSCODE' | 'prompt';

export interface GivenPasscode {
  readonly passcode: string;
  readonly from: PasscodeOrigin;
}

export interface OpenedVault extends VaultKeys {
  readonly dir: string;
  readonly source: KeySource;
  readonly created: boolean;
}

/** The write key that goes with a vault key: deterministic, so that one secret opens everything. */
export function writeKeyFor(vaultKey: SymmetricKey): PrivateSignKey {
  return generateSignKey('ml-dsa-65', keyFromSeed(vaultKey, 'atefs/write-key').subarray(0, 32));
}

const checkValueFor = (vaultKey: SymmetricKey): Uint8Array => keyFromSeed(vaultKey, 'atefs/vault-check');

export const keysOf = (vaultKey: SymmetricKey): VaultKeys => ({ vaultKey, writeKey: writeKeyFor(vaultKey) });

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw new CliError(`cannot read ${shown(path)}: ${(err as Error).message}`);
  }
}

/** The metadata of the vault in `dir`, or undefined when there is none yet. */
export async function readVaultMeta(dir: string): Promise<VaultMeta | undefined> {
  const path = join(dir, META_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOTDIR') throw new CliError(`${shown(dir)} is not a directory; give a directory as the log path`);
    throw new CliError(`cannot read the vault metadata ${shown(path)}: ${e.message}`);
  }
  const bad = (why: string): CliError =>
    new CliError(`the vault metadata ${shown(path)} is damaged (${why}); restore it from a backup`);
  let meta: VaultMeta;
  try {
    meta = JSON.parse(text) as VaultMeta;
  } catch {
    throw bad('not JSON');
  }
  if (meta?.format !== FORMAT) throw bad('not an atefs vault file');
  if (meta.version !== VERSION) throw new CliError(`${shown(path)} is vault format version ${String(meta.version)}, which this build cannot read; upgrade ate`);
  if (meta.key !== 'passcode' && meta.key !== 'key-file') throw bad(`unknown key kind ${JSON.stringify(meta.key)}`);
  if (typeof meta.check !== 'string' || unb64(meta.check).length !== 32) throw bad('no check value');
  if (meta.key === 'passcode') {
    const k = meta.kdf;
    const pow2 = (n: number): boolean => Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0;
    if (!k || k.alg !== 'scrypt' || typeof k.salt !== 'string' || unb64(k.salt).length < 16) throw bad('no passcode salt');
    // Bounds, so that a tampered file cannot make us allocate gigabytes.
    if (!pow2(k.N) || k.N > 2 ** 22 || !(k.r >= 1 && k.r <= 32) || !(k.p >= 1 && k.p <= 16)) throw bad('implausible scrypt parameters');
  }
  return meta;
}

async function writeMeta(dir: string, meta: VaultMeta): Promise<void> {
  await writeFileAtomic(join(dir, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
}

const kdfOf = (meta: VaultMeta): KdfParams => ({ N: meta.kdf!.N, r: meta.kdf!.r, p: meta.kdf!.p });

/** The metadata of a new passcode vault (a fresh salt) and its vault key. */
export async function newPasscodeMeta(passcode: string, mountPoint?: string): Promise<{ meta: VaultMeta; key: SymmetricKey }> {
  const salt = newSalt();
  const key = await derivePasswordKey(passcode, salt, DEFAULT_KDF);
  const meta: VaultMeta = {
    format: FORMAT,
    version: VERSION,
    key: 'passcode',
    kdf: { alg: 'scrypt', ...DEFAULT_KDF, salt: b64(salt) },
    check: b64(checkValueFor(key)),
    created: new Date().toISOString(),
    ...(mountPoint ? { mountPoint } : {}),
  };
  return { meta, key };
}

/** Whether `passcode` opens the vault of `meta`; its key if so. */
export async function tryPasscode(meta: VaultMeta, passcode: string): Promise<SymmetricKey | undefined> {
  const key = await derivePasswordKey(passcode, unb64(meta.kdf!.salt), kdfOf(meta));
  return equalBytes(checkValueFor(key), unb64(meta.check)) ? key : undefined;
}

/** `mountPoint` names the vault in messages: it is the path the user knows it by. */
export function wrongPasscode(mountPoint: string, from: PasscodeOrigin): CliError {
  const where = from === 'prompt' ? '' : ` (given by ${from})`;
  return new CliError(`wrong passcode for the vault at ${shown(mountPoint)}${where}`);
}

/** Asks for a passcode on the terminal; '' means none (only offered when creating). */
export type Prompt = (question: string) => Promise<string>;

/**
 * The passcode to open or create the vault in `dir` with: the one given, or (on a terminal) the
 * one typed at the prompt, once to open (three tries) and twice to create (empty: use a key
 * file). For an existing vault the passcode is checked here; `key` is then its vault key.
 */
export async function obtainPasscode(
  dir: string,
  mountPoint: string,
  meta: VaultMeta | undefined,
  given: GivenPasscode | undefined,
  prompt: Prompt | undefined,
): Promise<{ passcode?: GivenPasscode; key?: SymmetricKey }> {
  if (meta?.key === 'key-file') {
    if (given) {
      throw new UsageError(
        `the vault at ${shown(dir)} is opened by its key file ${shown(join(dir, KEY_FILE))}, not by a passcode; leave out ${given.from === 'ATE_PASSCODE' ? 'ATE_PASSCODE' : '--passcode'}`,
      );
    }
    return {};
  }
  if (meta?.key === 'passcode') {
    if (given) {
      const key = await tryPasscode(meta, given.passcode);
      if (!key) throw wrongPasscode(mountPoint, given.from);
      return { passcode: given, key };
    }
    if (!prompt) {
      throw new CliError(`the vault at ${shown(mountPoint)} is locked by a passcode: give it with ATE_PASSCODE=... or --passcode, or run atefs on a terminal to be asked`);
    }
    for (let attempt = 1; ; attempt++) {
      const passcode = await prompt(`Passcode for the vault at ${shown(mountPoint)}: `);
      const key = passcode ? await tryPasscode(meta, passcode) : undefined;
      if (key) return { passcode: { passcode, from: 'prompt' }, key };
      if (attempt === 3) throw wrongPasscode(mountPoint, 'prompt');
      process.stderr.write('atefs: wrong passcode, try again\n');
    }
  }
  // A new vault.
  if (given) return { passcode: given };
  if (!prompt) return {};
  for (let attempt = 1; ; attempt++) {
    const first = await prompt(`New vault at ${shown(mountPoint)} (stored in ${shown(dir)}). Choose a passcode (empty: keep the key in a key file instead): `);
    if (!first) return {};
    const second = await prompt('Type the passcode again: ');
    if (first === second) return { passcode: { passcode: first, from: 'prompt' } };
    if (attempt === 3) throw new CliError('the two passcodes differed three times; nothing was created');
    process.stderr.write('atefs: the two passcodes differ, try again\n');
  }
}

async function readKeyFile(dir: string, meta: VaultMeta | undefined): Promise<SymmetricKey> {
  const path = join(dir, KEY_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new CliError(`the key file ${shown(path)} of the vault at ${shown(dir)} is missing; restore it from your backup (the vault cannot be opened without it)`);
    }
    throw new CliError(`cannot read the key file ${shown(path)} (${e.code ?? e.message}); check its permissions or restore it from your backup`);
  }
  let key: SymmetricKey;
  try {
    const k = decodeKeyText(text);
    if (k.kind !== 'symmetric') throw new KeyFormatError(`it holds a ${k.kind} key`);
    key = k.key;
  } catch (err) {
    if (!(err instanceof KeyFormatError)) throw err;
    throw new CliError(`the key file ${shown(path)} is not a vault key (${err.message}); restore it from your backup`);
  }
  if (meta && !equalBytes(checkValueFor(key), unb64(meta.check))) {
    throw new CliError(`the key file ${shown(path)} does not open the vault at ${shown(dir)} (it belongs to another vault); restore the right one from your backup`);
  }
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      process.stderr.write(`atefs: warning: the key file ${shown(path)} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 ${shown(path)}\n`);
    }
  } catch {
    // Read a moment ago; a race with a delete is not worth an error here.
  }
  return key;
}

/**
 * Opens the vault in `dir`, creating it (directory, metadata, key file) on first use. `obtained`
 * comes from obtainPasscode with the same `meta`.
 */
export async function openVault(
  dir: string,
  mountPoint: string,
  meta: VaultMeta | undefined,
  obtained: { passcode?: GivenPasscode; key?: SymmetricKey },
  opts: { readOnly?: boolean } = {},
): Promise<OpenedVault> {
  if (meta) {
    if (meta.key === 'passcode') {
      const key = obtained.key ?? (obtained.passcode ? await tryPasscode(meta, obtained.passcode.passcode) : undefined);
      if (!key) throw wrongPasscode(mountPoint, obtained.passcode?.from ?? 'prompt');
      return { dir, ...keysOf(key), source: { kind: 'passcode', from: obtained.passcode?.from ?? 'prompt' }, created: false };
    }
    const key = await readKeyFile(dir, meta);
    return { dir, ...keysOf(key), source: { kind: 'key-file', path: join(dir, KEY_FILE) }, created: false };
  }

  // No metadata: a new vault, unless a log is already there (then the metadata was lost).
  const hasLog = await exists(join(dir, LOG_NAME));
  const keyPath = join(dir, KEY_FILE);
  const hasKeyFile = await exists(keyPath);
  if (hasLog && !hasKeyFile) {
    throw new CliError(
      `${shown(dir)} holds a vault log but its ${META_FILE} (passcode salt and check value) is missing; restore it from a backup (without it the vault cannot be opened)`,
    );
  }
  if (opts.readOnly && !hasLog) {
    throw new UsageError(`there is no vault at ${shown(dir)} yet, and --read-only cannot create one; mount it once without --read-only`);
  }
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new CliError(`cannot create the vault directory ${shown(dir)}: ${(err as Error).message}`);
  }
  const created = new Date().toISOString();
  if (obtained.passcode && !hasKeyFile) {
    const { meta: fresh, key } = await newPasscodeMeta(obtained.passcode.passcode, mountPoint);
    await writeMeta(dir, fresh);
    return { dir, ...keysOf(key), source: { kind: 'passcode', from: obtained.passcode.from }, created: true };
  }
  if (obtained.passcode && hasKeyFile) {
    throw new UsageError(`${shown(dir)} already has a key file (${KEY_FILE}); leave out the passcode, or move the key file away to start a passcode vault`);
  }
  let key: SymmetricKey;
  if (hasKeyFile) {
    // A key file without metadata: an earlier first run stopped between the two writes (or the
    // metadata was lost). The key file is the secret; the metadata is rebuilt from it.
    key = await readKeyFile(dir, undefined);
    process.stderr.write(`atefs: ${META_FILE} was missing beside the key file in ${shown(dir)}; rebuilt it from the key file\n`);
  } else {
    key = generateSymmetricKey();
    try {
      await writeFile(keyPath, `${encodeKeyText({ kind: 'symmetric', key })}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      throw new CliError(`cannot write the key file ${shown(keyPath)}: ${(err as Error).message}`);
    }
  }
  await writeMeta(dir, { format: FORMAT, version: VERSION, key: 'key-file', check: b64(checkValueFor(key)), created, mountPoint });
  return { dir, ...keysOf(key), source: { kind: 'key-file', path: keyPath }, created: !hasLog };
}
