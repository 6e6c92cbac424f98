// The wire protocol (docs/FORMAT.md "Wire protocol"): frames, messages, handshake, connections.
export { MAX_FRAME, FRAME_HEADER_BYTES, encodeFrame, FrameDecoder } from './frame.js';
export * from './messages.js';
export { FrameCipher } from './cipher.js';
export { type Ciphers, type ClientOffer, type ClientResult, type ServerAnswer, type ServerSettings, serverFingerprint, clientOffer, clientFinish, serverAnswer } from './handshake.js';
export { defaultKnownServersPath, parseFingerprint, checkServerIdentity } from './known-servers.js';
export { WireConnection, type ConnectOptions, type ListenOptions, type Listener, connect, listen, hostPort } from './connection.js';
