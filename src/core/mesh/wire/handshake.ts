// Hello and key exchange (docs/FORMAT.md "Hello and key exchange"): the client offers a version,
// formats, a key size and a one-time ML-KEM-768+X25519 key; the server answers with the larger key
// size, a KEM ciphertext and an ML-DSA-65 signature over the transcript, which authenticates it.
import {
  type PrivateReadKey,
  type PrivateSignKey,
  type PublicSignKey,
  type SignerPool,
  decapsulate,
  decodeKey,
  encapsulate,
  encodeKey,
  generateReadKeyPair,
  hash,
  publicSignKey,
  signKeyHash,
  toHex,
  verify,
} from '../../crypto/index.js';
import { KeyFormatError, WireError } from '../../errors.js';
import { FrameCipher } from './cipher.js';
import {
  type ClientHello,
  type Fatal,
  type ServerHello,
  WIRE_FORMAT,
  WIRE_VERSION,
  type WireEncryption,
  decodeClientHello,
  decodeServerHello,
  encode,
} from './messages.js';

const HELLO_LABEL = Buffer.from('ate/wire-hello');
const C2S_LABEL = Buffer.from('ate/wire c2s');
const S2C_LABEL = Buffer.from('ate/wire s2c');

/** The ciphers of an encrypted connection, as seen from one end. */
export interface Ciphers {
  readonly incoming: FrameCipher;
  readonly outgoing: FrameCipher;
}

/** How a server identity key is named in known_servers and on command lines: its key id, 64 hex digits. */
export const serverFingerprint = (key: PublicSignKey): string => toHex(signKeyHash(key));

/** T = SHA-256("ate/wire-hello" ‖ client hello payload ‖ u16be(enc) ‖ ct). */
function transcript(clientHello: Uint8Array, enc: WireEncryption, ct: Uint8Array): Uint8Array {
  const size = Buffer.alloc(2);
  size.writeUInt16BE(enc);
  return hash(HELLO_LABEL, clientHello, size, ct);
}

function keys(ss: Uint8Array, t: Uint8Array, enc: WireEncryption): { c2s: Uint8Array; s2c: Uint8Array } {
  return { c2s: hash(C2S_LABEL, ss, t).subarray(0, enc / 8), s2c: hash(S2C_LABEL, ss, t).subarray(0, enc / 8) };
}

export interface ClientOffer {
  readonly payload: Buffer;
  readonly kem: PrivateReadKey;
}

/**
 * The client's hello. It always carries a KEM key, even when the client asks for no encryption,
 * because the server may demand encryption and there is no second round to offer one.
 */
export function clientOffer(enc: WireEncryption): ClientOffer {
  const kem = generateReadKeyPair();
  const hello: ClientHello = { t: 'hello', v: WIRE_VERSION, formats: [WIRE_FORMAT], enc, kem: kem.publicKey };
  return { payload: encode(hello), kem };
}

export interface ServerSettings {
  /** The least key size the server asks for (0: it does not ask; the client may still). */
  readonly encryption: WireEncryption;
  readonly identity: PrivateSignKey;
  readonly signer: SignerPool;
}

export type ServerAnswer =
  | { readonly ok: true; readonly payload: Buffer; readonly enc: WireEncryption; readonly ciphers?: Ciphers }
  /** No common ground: send `payload` (a fatal) and close. */
  | { readonly ok: false; readonly payload: Buffer; readonly message: string };

function refuse(message: string): ServerAnswer {
  const fatal: Fatal = { t: 'fatal', message };
  return { ok: false, payload: encode(fatal), message };
}

/** The server's answer to a client hello payload. WireError if the payload is not a hello at all. */
export async function serverAnswer(clientPayload: Uint8Array, settings: ServerSettings): Promise<ServerAnswer> {
  const hello = decodeClientHello(clientPayload);
  if (hello.v !== WIRE_VERSION) return refuse(`wire protocol version ${hello.v} is not spoken here (this server speaks version ${WIRE_VERSION}); use a matching ate`);
  if (!hello.formats.includes(WIRE_FORMAT)) return refuse(`no common wire format (this server speaks ${WIRE_FORMAT})`);
  const enc = Math.max(hello.enc, settings.encryption) as WireEncryption;
  if (enc === 0) return { ok: true, payload: encode({ t: 'hello', v: WIRE_VERSION, format: WIRE_FORMAT, enc } satisfies ServerHello), enc };
  if (!hello.kem) return refuse('this server requires wire encryption and the client offered no key');
  let cipherText: Uint8Array;
  let sharedSecret: Uint8Array;
  try {
    ({ cipherText, sharedSecret } = encapsulate({ bytes: hello.kem }));
  } catch (err) {
    if (err instanceof KeyFormatError) return refuse(`the client's key exchange key is malformed (${err.message})`);
    throw err;
  }
  const t = transcript(clientPayload, enc, cipherText);
  const sig = await settings.signer.signAsync(settings.identity, t);
  const k = keys(sharedSecret, t, enc);
  const reply: ServerHello = {
    t: 'hello',
    v: WIRE_VERSION,
    format: WIRE_FORMAT,
    enc,
    id: encodeKey({ kind: 'sign-public', key: publicSignKey(settings.identity) }),
    ct: cipherText,
    sig,
  };
  return { ok: true, payload: encode(reply), enc, ciphers: { incoming: new FrameCipher(k.c2s), outgoing: new FrameCipher(k.s2c) } };
}

export interface ClientResult {
  readonly enc: WireEncryption;
  readonly ciphers?: Ciphers;
  /** The server's identity (encrypted connections only: a plain one has no server authentication). */
  readonly serverKey?: PublicSignKey;
  readonly fingerprint?: string;
}

/**
 * Checks the server's hello against the client's offer: the signature over the transcript
 * must verify with the key in `id`. Pinning that key is the caller's job (known-servers.ts).
 * WireError on a malformed or unauthenticated answer, or the server's own refusal.
 */
export function clientFinish(offer: ClientOffer, serverPayload: Uint8Array): ClientResult {
  const hello = decodeServerHello(serverPayload);
  if (hello.t === 'fatal') throw new WireError(`the server refused the connection: ${hello.message}`);
  if (hello.v !== WIRE_VERSION) throw new WireError(`the server speaks wire protocol version ${hello.v}, this client ${WIRE_VERSION}`);
  if (hello.format !== WIRE_FORMAT) throw new WireError(`the server chose wire format "${hello.format}", which this client does not speak`);
  const asked = decodeClientHello(offer.payload).enc;
  if (hello.enc < asked) throw new WireError(`the server answered with ${hello.enc}-bit encryption where ${asked} was asked for`);
  if (hello.enc === 0) return { enc: 0 };
  if (!hello.id || !hello.ct || !hello.sig) throw new WireError('the server hello lacks its identity, key exchange or signature');
  let key: PublicSignKey;
  try {
    const decoded = decodeKey(hello.id);
    if (decoded.kind !== 'sign-public') throw new KeyFormatError(`a ${decoded.kind} key`);
    key = decoded.key;
  } catch (err) {
    throw new WireError(`the server's identity is not a public signing key (${err instanceof Error ? err.message : String(err)})`);
  }
  const t = transcript(offer.payload, hello.enc, hello.ct);
  if (!verify(key, t, hello.sig)) throw new WireError("the server's handshake signature does not verify: someone may be tampering with the connection");
  const k = keys(decapsulate(offer.kem, hello.ct), t, hello.enc);
  return {
    enc: hello.enc,
    ciphers: { incoming: new FrameCipher(k.s2c), outgoing: new FrameCipher(k.c2s) },
    serverKey: key,
    fingerprint: serverFingerprint(key),
  };
}
