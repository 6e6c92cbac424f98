// A connection after its hello: framed, optionally encrypted messages over one TCP socket.
// connect() is the client's way in, listen() the server's; both run the handshake first.
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { type PrivateSignKey, type SignerPool, TAG_BYTES, defaultSignerPool } from '../../crypto/index.js';
import { AteError, MeshError, WireError } from '../../errors.js';
import { type Ciphers, clientFinish, clientOffer, serverAnswer } from './handshake.js';
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_FRAME, writeFrameHeader } from './frame.js';
import { checkServerIdentity } from './known-servers.js';
import {
  type ClientMessage,
  type Fatal,
  type Message,
  type ServerMessage,
  type WireEncryption,
  decodeClientMessage,
  decodeServerMessage,
  encode,
  encodeTransient,
} from './messages.js';

/** A hello is small; a peer that has not said hello yet may not make us buffer megabytes. */
const MAX_HELLO_FRAME = 16 * 1024;
/** How long a closing connection may take to deliver its last frames before it is cut. */
const CLOSE_GRACE_MS = 2000;

type Decoder<In> = (payload: Uint8Array) => In;

interface Parts<In> {
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  readonly decodeMessage: Decoder<In>;
  readonly ciphers: Ciphers | undefined;
  readonly encryption: WireEncryption;
  readonly remote: string;
  /** What the peer is, for messages ("atedb at 127.0.0.1:5000", "client 10.0.0.2:41234"). */
  readonly peer: string;
  readonly serverFingerprint?: string;
  /** Payloads that arrived with the hello. */
  readonly early: readonly Buffer[];
}

/**
 * One connection. Messages are delivered to `onMessage` in order; until it is set they wait, so
 * no message is lost between connect and set-up. `onClose` is called once: without an error
 * after close(), with one otherwise (a `fatal` from the peer arrives as a MeshError carrying its
 * message, whether or not onMessage is set).
 */
export class WireConnection<In extends Message = Message, Out extends Message = Message> {
  onClose: (err?: Error) => void = () => undefined;
  readonly encryption: WireEncryption;
  /** host:port of the other end. */
  readonly remote: string;
  /** The server's identity fingerprint (client side of an encrypted connection). */
  readonly serverFingerprint?: string;
  private handler: ((msg: In) => void) | undefined;
  private readonly waiting: In[] = [];
  private paused = false;
  private delivering = false;
  private closed = false;
  private closeReported = false;
  /** The socket holds this turn's frames to write them in one call (see write()). */
  private corked = false;
  private readonly socket: Socket;
  private readonly decoder: FrameDecoder;
  private readonly decodeMessage: Decoder<In>;
  private readonly ciphers: Ciphers | undefined;
  private readonly peer: string;

  constructor(parts: Parts<In>) {
    this.socket = parts.socket;
    this.decoder = parts.decoder;
    this.decoder.maxFrame = MAX_FRAME;
    this.decodeMessage = parts.decodeMessage;
    this.ciphers = parts.ciphers;
    this.encryption = parts.encryption;
    this.remote = parts.remote;
    this.peer = parts.peer;
    if (parts.serverFingerprint !== undefined) this.serverFingerprint = parts.serverFingerprint;
    this.socket.on('data', (chunk: Buffer) => this.received(chunk));
    this.socket.on('error', (err) => this.fail(lost(this.peer, err)));
    this.socket.on('close', () => this.fail(new MeshError(`${this.peer} closed the connection`)));
    this.socket.on('end', () => this.socket.end());
    this.take(parts.early);
    if (!this.closed) this.socket.resume();
  }

  get onMessage(): ((msg: In) => void) | undefined {
    return this.handler;
  }

  /** Setting the handler starts delivery (and reading). */
  set onMessage(fn: ((msg: In) => void) | undefined) {
    this.handler = fn;
    if (fn) setImmediate(() => this.deliver());
  }

  /** Queues a message on the socket (dropped once the connection is closed). */
  send(msg: Out): void {
    // Sealing copies the payload: it may stay in the encoder's buffer until then.
    this.sendPayload(this.ciphers ? encodeTransient(msg) : encode(msg));
  }

  /**
   * Queues a payload that encode() made: a server that sends one message to many connections
   * encodes it once.
   */
  sendPayload(payload: Uint8Array): void {
    if (this.closed) return;
    // Checked before sealing: a refused frame must not use up a nonce the peer will expect.
    if (payload.length + (this.ciphers ? TAG_BYTES : 0) > MAX_FRAME) throw new WireError(`a frame of ${payload.length} bytes is over the ${MAX_FRAME}-byte limit`);
    if (this.ciphers) {
      this.write(writeFrameHeader(this.ciphers.outgoing.sealFrame(payload)));
      return;
    }
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(payload.length, 0);
    this.write(header);
    this.write(payload);
  }

  /**
   * Frames sent in one turn of the event loop (the confirmations of a group commit, a burst of
   * live events) leave in one system call: the socket is corked until the turn's end.
   */
  private write(chunk: Uint8Array): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(chunk);
  }

  /** Bytes queued on the socket and not yet handed to the kernel. */
  get buffered(): number {
    return this.socket.writableLength;
  }

  /** Resolves once the queued bytes are written (at once if few are queued), or the connection closed. */
  drained(): Promise<void> {
    if (this.closed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Stops delivering messages (and reading the socket) until resumeReading(). */
  pauseReading(): void {
    this.paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    setImmediate(() => this.deliver());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection, telling the peer why when a reason is given; onClose() gets no error. */
  close(reason?: string): void {
    if (this.closed) return;
    if (reason !== undefined) this.sendPayload(encode({ t: 'fatal', message: reason } satisfies Fatal));
    this.closed = true;
    this.report(undefined);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private received(chunk: Buffer): void {
    if (this.closed) return;
    let payloads: Buffer[];
    try {
      payloads = this.decoder.push(chunk);
    } catch (err) {
      this.protocolError(err);
      return;
    }
    this.take(payloads);
    this.deliver();
  }

  /** Decrypts and decodes payloads in arrival order (the cipher counts them) into the queue. */
  private take(payloads: readonly Buffer[]): void {
    for (const payload of payloads) {
      if (this.closed) return;
      let msg: In;
      try {
        msg = this.decodeMessage(this.ciphers ? this.ciphers.incoming.open(payload) : payload);
      } catch (err) {
        this.protocolError(err);
        return;
      }
      if (msg.t === 'fatal') {
        this.fail(new MeshError(`${this.peer} closed the connection: ${(msg as Fatal).message}`));
        return;
      }
      this.waiting.push(msg);
    }
  }

  private deliver(): void {
    if (this.delivering || this.closed || !this.handler) return;
    this.delivering = true;
    try {
      while (!this.paused && !this.closed && this.waiting.length > 0) this.handler(this.waiting.shift()!);
    } finally {
      this.delivering = false;
    }
    if (!this.paused && !this.closed && this.waiting.length === 0) this.socket.resume();
  }

  /** Bytes that break the protocol close this connection (and only it). */
  private protocolError(err: unknown): void {
    if (!(err instanceof AteError)) throw err;
    const message = err instanceof WireError ? err.message : `undecryptable frame (${err.message})`;
    this.sendPayloadQuietly(message);
    this.fail(new WireError(`${this.peer} broke the wire protocol: ${message}`));
  }

  private sendPayloadQuietly(message: string): void {
    try {
      this.sendPayload(encode({ t: 'fatal', message } satisfies Fatal));
    } catch {
      // the peer is going away anyway
    }
  }

  private fail(err: Error): void {
    if (this.closed) {
      this.report(undefined);
      return;
    }
    this.closed = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    this.report(err);
  }

  private report(err: Error | undefined): void {
    if (this.closeReported) return;
    this.closeReported = true;
    this.waiting.length = 0;
    this.onClose(err);
  }
}

function lost(peer: string, err: Error): MeshError {
  const code = (err as NodeJS.ErrnoException).code;
  return new MeshError(`lost the connection to ${peer} (${code ?? err.message})`, { cause: err });
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly encryption: WireEncryption;
  /** The known-servers file (default: $XDG_CONFIG_HOME/ate/known_servers). */
  readonly knownServersPath?: string;
  /** The server's fingerprint, when known beforehand: checked instead of the known-servers file. */
  readonly fingerprint?: string;
  /** For connect and handshake together (default 10 s). */
  readonly timeoutMs?: number;
  /** What the server is, in error messages (default "atedb"). */
  readonly service?: string;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EPIPE: 'connection closed',
};

function unreachable(service: string, where: string, err: Error): MeshError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const reason = REASONS[code] ?? err.message;
  const hint = code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'check the address' : `is the server running?`;
  return new MeshError(`cannot reach ${service} at ${where} (${reason}); ${hint}`, { cause: err });
}

/** host:port, with brackets around an IPv6 address. */
export const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Reads frames from a socket until the first payload (the peer's hello). */
function firstPayload(socket: Socket, decoder: FrameDecoder): Promise<{ hello: Buffer; rest: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      let payloads: Buffer[];
      try {
        payloads = decoder.push(chunk);
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (payloads.length === 0) return;
      cleanup();
      socket.pause();
      resolve({ hello: payloads[0]!, rest: payloads.slice(1) });
    };
    const onEnd = (): void => {
      cleanup();
      reject(Object.assign(new Error('closed during the handshake'), { code: 'ECONNRESET' }));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}

/**
 * Connects to a server and runs the handshake. MeshError when the server cannot be reached,
 * ServerIdentityError when its key is not the pinned one, WireError when it breaks the protocol.
 */
export async function connect(opts: ConnectOptions): Promise<WireConnection<ServerMessage, ClientMessage>> {
  const service = opts.service ?? 'atedb';
  const where = hostPort(opts.host, opts.port);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const socket = createConnection({ host: opts.host, port: opts.port, noDelay: true });
  const timer = setTimeout(() => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const offer = clientOffer(opts.encryption);
    const decoder = new FrameDecoder(MAX_HELLO_FRAME);
    const answer = firstPayload(socket, decoder);
    socket.write(writeFrameHeader(Buffer.concat([Buffer.alloc(FRAME_HEADER_BYTES), offer.payload])));
    const { hello, rest } = await answer;
    const result = clientFinish(offer, hello);
    if (result.fingerprint !== undefined) {
      await checkServerIdentity({
        host: opts.host,
        port: opts.port,
        fingerprint: result.fingerprint,
        ...(opts.fingerprint !== undefined ? { expected: opts.fingerprint } : {}),
        ...(opts.knownServersPath !== undefined ? { path: opts.knownServersPath } : {}),
      });
    } else if (opts.fingerprint !== undefined) {
      throw new WireError(`the server at ${where} did not encrypt the connection, so its fingerprint cannot be checked; ask for wire encryption`);
    }
    clearTimeout(timer);
    socket.removeAllListeners('error');
    return new WireConnection({
      socket,
      decoder,
      decodeMessage: decodeServerMessage,
      ciphers: result.ciphers,
      encryption: result.enc,
      remote: where,
      peer: `${service} at ${where}`,
      ...(result.fingerprint !== undefined ? { serverFingerprint: result.fingerprint } : {}),
      early: rest,
    });
  } catch (err) {
    clearTimeout(timer);
    socket.destroy();
    if (err instanceof WireError) throw new WireError(`${service} at ${where}: ${err.message}`);
    if (err instanceof AteError) throw err;
    throw unreachable(service, where, err as Error);
  }
}

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly identity: PrivateSignKey;
  /** The least key size the server asks for; 0 or 'off': none (a client may still ask). */
  readonly encryption: WireEncryption | 'off';
  /** Connections beyond this are closed at once (default 1024). */
  readonly maxConnections?: number;
  /** A connection that has not finished its hello by then is closed (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** Signs handshakes off the event loop (default: the process-wide pool). */
  readonly signer?: SignerPool;
  /** Told about connections refused during their handshake (for -v logging). */
  readonly onRefused?: (remote: string, reason: string) => void;
}

export interface Listener {
  readonly port: number;
  /** Stops accepting and drops connections still in their handshake; established ones are the caller's. */
  close(): Promise<void>;
}

/** Listens for clients; calls onConnection with each connection once its handshake is done. */
export async function listen(
  opts: ListenOptions,
  onConnection: (c: WireConnection<ClientMessage, ServerMessage>) => void,
): Promise<Listener> {
  const settings = {
    encryption: opts.encryption === 'off' ? 0 : opts.encryption,
    identity: opts.identity,
    signer: opts.signer ?? defaultSignerPool(),
  } as const;
  // The first signature starts the signer's worker (a second or more on a busy machine): pay for
  // it now rather than in the first client's handshake timeout.
  if (settings.encryption > 0) await settings.signer.signAsync(settings.identity, new Uint8Array(32));
  const handshaking = new Set<Socket>();
  const timeoutMs = opts.handshakeTimeoutMs ?? 10_000;
  const refused = opts.onRefused ?? (() => undefined);

  const accept = async (socket: Socket): Promise<void> => {
    const remote = hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    socket.setNoDelay(true);
    handshaking.add(socket);
    // Errors after the handshake are the connection's; before it, the socket just goes.
    const swallow = (): void => undefined;
    socket.on('error', swallow);
    const timer = setTimeout(() => {
      refused(remote, 'no hello in time');
      socket.destroy();
    }, timeoutMs);
    try {
      const decoder = new FrameDecoder(MAX_HELLO_FRAME);
      const { hello, rest } = await firstPayload(socket, decoder);
      const answer = await serverAnswer(hello, settings);
      if (socket.destroyed) return;
      socket.write(writeFrameHeader(Buffer.concat([Buffer.alloc(FRAME_HEADER_BYTES), answer.payload])));
      if (!answer.ok) {
        refused(remote, answer.message);
        socket.end();
        return;
      }
      clearTimeout(timer);
      handshaking.delete(socket);
      socket.off('error', swallow);
      onConnection(
        new WireConnection({
          socket,
          decoder,
          decodeMessage: decodeClientMessage,
          ciphers: answer.ciphers,
          encryption: answer.enc,
          remote,
          peer: `client ${remote}`,
          early: rest,
        }),
      );
    } catch (err) {
      if (err instanceof AteError) {
        refused(remote, err.message);
        if (!socket.destroyed) socket.end(writeFrameHeader(Buffer.concat([Buffer.alloc(FRAME_HEADER_BYTES), encode({ t: 'fatal', message: err.message })])));
      } else if ((err as NodeJS.ErrnoException).code === undefined) throw err;
      socket.destroy();
    } finally {
      clearTimeout(timer);
      handshaking.delete(socket);
    }
  };

  const server: Server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
    accept(socket).catch((err: unknown) => {
      socket.destroy();
      process.emitWarning(`atedb: handshake failed: ${err instanceof Error ? err.stack : String(err)}`);
    });
  });
  server.maxConnections = opts.maxConnections ?? 1024;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of handshaking) s.destroy();
        // server.close waits for every connection; established ones are the caller's to end.
        setImmediate(resolve);
      });
    },
  };
}
