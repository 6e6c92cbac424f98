// The messages of the wire protocol (docs/FORMAT.md "Messages after hello"), their encoding
// (one msgpack map per frame, the type in `t`) and a decoder that checks every field, so that
// the code behind it never sees a value of the wrong type.
import { Packr } from 'msgpackr';
import { WireError } from '../../errors.js';

export const WIRE_VERSION = 1;
export const WIRE_FORMAT = 'msgpack';

/** AES key size in bits that a side asks for; 0: no encryption. */
export type WireEncryption = 0 | 128 | 192 | 256;
export const ENCRYPTIONS: readonly WireEncryption[] = [0, 128, 192, 256];

export interface ClientHello {
  readonly t: 'hello';
  readonly v: number;
  readonly formats: readonly string[];
  readonly enc: WireEncryption;
  /** A fresh ML-KEM-768+X25519 public key for this connection. */
  readonly kem?: Uint8Array;
}

export interface ServerHello {
  readonly t: 'hello';
  readonly v: number;
  readonly format: string;
  readonly enc: WireEncryption;
  /** encodeKey of the server's public ML-DSA identity key (with enc > 0). */
  readonly id?: Uint8Array;
  readonly ct?: Uint8Array;
  readonly sig?: Uint8Array;
}

// Client to server.
export interface Subscribe {
  readonly t: 'subscribe';
  readonly chain: string;
  readonly from: number;
  readonly epoch?: string;
  /** A token in its text form ('ate-token:...'): what an atedb with an auth server checks access by. */
  readonly token?: string;
}
export interface UploadEvents {
  readonly t: 'events';
  /** > 0 asks for confirmed/commitError. */
  readonly commit: number;
  readonly evts: readonly Uint8Array[];
}
export interface Lock {
  readonly t: 'lock';
  readonly key: string;
}
export interface Unlock {
  readonly t: 'unlock';
  readonly key: string;
}
export interface Request {
  readonly t: 'request';
  readonly id: number;
  readonly method: string;
  readonly body: unknown;
}

// Server to client.
export type Integrity = 'centralized' | 'distributed';
export interface Start {
  readonly t: 'start';
  readonly chain: string;
  readonly epoch: string;
  readonly size: number;
  readonly integrity: Integrity;
  /** encodeKey of each root public sign key. */
  readonly rootKeys: readonly Uint8Array[];
}
export interface Events {
  readonly t: 'events';
  /** Server position of evts[0]. */
  readonly seq: number;
  readonly evts: readonly Uint8Array[];
}
export interface End {
  readonly t: 'end';
  readonly seq: number;
}
export interface Confirmed {
  readonly t: 'confirmed';
  readonly commit: number;
  /**
   * The stream has no gap below this position: every event there was sent on this connection or
   * uploaded on it (the server sends no uploader its own events). Absent from older servers.
   */
  readonly seq?: number;
}
export interface CommitRefused {
  readonly t: 'commitError';
  readonly commit: number;
  readonly message: string;
}
export interface LockResult {
  readonly t: 'lockResult';
  readonly key: string;
  readonly locked: boolean;
}
export type RefusedCode = 'not-found' | 'denied' | 'not-this-root' | 'bad-request';
export const REFUSED_CODES: readonly RefusedCode[] = ['not-found', 'denied', 'not-this-root', 'bad-request'];
export interface Refused {
  readonly t: 'refused';
  readonly code: RefusedCode;
  readonly message: string;
  /** With not-this-root: the chain's home server, "host:port". */
  readonly home?: string;
}
export interface Response {
  readonly t: 'response';
  readonly id: number;
  readonly ok: boolean;
  readonly body?: unknown;
  readonly message?: string;
}

/** Either side: the sender closes the connection, for this reason. */
export interface Fatal {
  readonly t: 'fatal';
  readonly message: string;
}

export type ClientMessage = Subscribe | UploadEvents | Lock | Unlock | Request | Fatal;
export type ServerMessage = Start | Events | End | Confirmed | CommitRefused | LockResult | Refused | Response | Fatal;
export type Message = ClientMessage | ServerMessage;

/** The fixed configuration of DESIGN.md: plain maps, arrays and binaries, no record extensions. */
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

/** The payload of a message (a fresh buffer: msgpackr's own is reused by the next pack). */
export function encode(msg: Message | ClientHello | ServerHello): Buffer {
  return Buffer.from(encodeTransient(msg));
}

/**
 * The payload in msgpackr's own buffer, valid only until the next encode: for a caller that
 * consumes it at once (sealing it copies it), saving a copy of up to a whole frame.
 */
export function encodeTransient(msg: Message | ClientHello | ServerHello): Uint8Array {
  return packr.pack(msg);
}

/** A token holds the keys of every role it gathered (several KiB each); far below a frame. */
const MAX_TOKEN_CHARS = 1024 * 1024;

type Fields = Record<string, unknown>;

function bad(what: string): never {
  throw new WireError(`malformed message: ${what}`);
}

function unpack(payload: Uint8Array): Fields {
  let value: unknown;
  try {
    value = packr.unpack(payload);
  } catch (err) {
    throw new WireError(`malformed message: not msgpack (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) bad('not a map');
  const m = value as Fields;
  if (typeof m['t'] !== 'string') bad('no message type');
  return m;
}

function str(m: Fields, k: string, maxLength = 64 * 1024): string {
  const v = m[k];
  if (typeof v !== 'string') bad(`${String(m['t'])}.${k} must be a string`);
  if (v.length > maxLength) bad(`${String(m['t'])}.${k} is longer than ${maxLength} characters`);
  return v;
}

function uint(m: Fields, k: string): number {
  const v = m[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${String(m['t'])}.${k} must be a non-negative integer`);
  return v;
}

function bool(m: Fields, k: string): boolean {
  const v = m[k];
  if (typeof v !== 'boolean') bad(`${String(m['t'])}.${k} must be true or false`);
  return v;
}

function bin(m: Fields, k: string): Uint8Array {
  const v = m[k];
  if (!(v instanceof Uint8Array)) bad(`${String(m['t'])}.${k} must be binary`);
  return v;
}

function bins(m: Fields, k: string): Uint8Array[] {
  const v = m[k];
  if (!Array.isArray(v) || !v.every((x) => x instanceof Uint8Array)) bad(`${String(m['t'])}.${k} must be a list of binaries`);
  return v as Uint8Array[];
}

function strs(m: Fields, k: string): string[] {
  const v = m[k];
  if (!Array.isArray(v) || v.length > 64 || !v.every((x) => typeof x === 'string' && x.length <= 256)) bad(`${String(m['t'])}.${k} must be a short list of strings`);
  return v as string[];
}

function optional<T>(m: Fields, k: string, read: (m: Fields, k: string) => T): T | undefined {
  return m[k] === undefined || m[k] === null ? undefined : read(m, k);
}

function enc(m: Fields): WireEncryption {
  const v = m['enc'];
  if (!ENCRYPTIONS.includes(v as WireEncryption)) bad('hello.enc must be 0, 128, 192 or 256');
  return v as WireEncryption;
}

/** A message with only the fields it declares (unknown fields are dropped: newer peers may add some). */
function clean<T extends object>(msg: T): T {
  for (const k of Object.keys(msg) as (keyof T)[]) if (msg[k] === undefined) delete msg[k];
  return msg;
}

const fatal = (m: Fields): Fatal => ({ t: 'fatal', message: str(m, 'message') });

function clientMessage(m: Fields): ClientMessage {
  switch (m['t']) {
    case 'subscribe':
      return clean({
        t: 'subscribe',
        chain: str(m, 'chain', 1024),
        from: uint(m, 'from'),
        epoch: optional(m, 'epoch', (f, k) => str(f, k, 64)),
        token: optional(m, 'token', (f, k) => str(f, k, MAX_TOKEN_CHARS)),
      });
    case 'events':
      return { t: 'events', commit: uint(m, 'commit'), evts: bins(m, 'evts') };
    case 'lock':
      return { t: 'lock', key: str(m, 'key', 64) };
    case 'unlock':
      return { t: 'unlock', key: str(m, 'key', 64) };
    case 'request':
      return { t: 'request', id: uint(m, 'id'), method: str(m, 'method', 256), body: m['body'] };
    case 'fatal':
      return fatal(m);
    default:
      return bad(`unknown message type "${String(m['t']).slice(0, 40)}"`);
  }
}

function serverMessage(m: Fields): ServerMessage {
  switch (m['t']) {
    case 'start': {
      const integrity = str(m, 'integrity');
      if (integrity !== 'centralized' && integrity !== 'distributed') bad('start.integrity must be centralized or distributed');
      return { t: 'start', chain: str(m, 'chain', 1024), epoch: str(m, 'epoch', 64), size: uint(m, 'size'), integrity, rootKeys: bins(m, 'rootKeys') };
    }
    case 'events':
      return { t: 'events', seq: uint(m, 'seq'), evts: bins(m, 'evts') };
    case 'end':
      return { t: 'end', seq: uint(m, 'seq') };
    case 'confirmed':
      return clean({ t: 'confirmed', commit: uint(m, 'commit'), seq: optional(m, 'seq', uint) });
    case 'commitError':
      return { t: 'commitError', commit: uint(m, 'commit'), message: str(m, 'message') };
    case 'lockResult':
      return { t: 'lockResult', key: str(m, 'key', 64), locked: bool(m, 'locked') };
    case 'refused': {
      const code = str(m, 'code');
      if (!REFUSED_CODES.includes(code as RefusedCode)) bad(`unknown refusal code "${code.slice(0, 40)}"`);
      return clean({ t: 'refused', code: code as RefusedCode, message: str(m, 'message'), home: optional(m, 'home', (f, k) => str(f, k, 300)) });
    }
    case 'response':
      return clean({ t: 'response', id: uint(m, 'id'), ok: bool(m, 'ok'), body: m['body'] ?? undefined, message: optional(m, 'message', str) });
    case 'fatal':
      return fatal(m);
    default:
      return bad(`unknown message type "${String(m['t']).slice(0, 40)}"`);
  }
}

/** A message a client sent; WireError on anything that is not one. */
export function decodeClientMessage(payload: Uint8Array): ClientMessage {
  return clientMessage(unpack(payload));
}

/** A message a server sent; WireError on anything that is not one. */
export function decodeServerMessage(payload: Uint8Array): ServerMessage {
  return serverMessage(unpack(payload));
}

/**
 * A message of either direction. The one type both directions use, `events`, is told apart by
 * its fields (`commit` from a client, `seq` from a server).
 */
export function decode(payload: Uint8Array): Message {
  const m = unpack(payload);
  if (m['t'] === 'events') return m['seq'] !== undefined ? serverMessage(m) : clientMessage(m);
  try {
    return clientMessage(m);
  } catch (err) {
    if (!(err instanceof WireError) || !/unknown message type/.test(err.message)) throw err;
    return serverMessage(m);
  }
}

export function decodeClientHello(payload: Uint8Array): ClientHello {
  const m = unpack(payload);
  if (m['t'] === 'fatal') bad('the peer refused the connection');
  if (m['t'] !== 'hello') bad(`expected hello, got "${String(m['t']).slice(0, 40)}"`);
  return clean({ t: 'hello', v: uint(m, 'v'), formats: strs(m, 'formats'), enc: enc(m), kem: optional(m, 'kem', bin) });
}

/** The server's hello, or its fatal (no common version or format). */
export function decodeServerHello(payload: Uint8Array): ServerHello | Fatal {
  const m = unpack(payload);
  if (m['t'] === 'fatal') return fatal(m);
  if (m['t'] !== 'hello') bad(`expected hello, got "${String(m['t']).slice(0, 40)}"`);
  return clean({
    t: 'hello',
    v: uint(m, 'v'),
    format: str(m, 'format', 256),
    enc: enc(m),
    id: optional(m, 'id', bin),
    ct: optional(m, 'ct', bin),
    sig: optional(m, 'sig', bin),
  });
}
