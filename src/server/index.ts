// atedb and the server framework the auth server shares.
export { Atedb, type AtedbOptions } from './atedb.js';
export { WireServer, ServerConnection, type WireServerOptions, type RequestHandler, type SessionHandler } from './wire-server.js';
export { type AuthDirectory, WireAuthDirectory, type WireAuthOptions, parseAuthUrl, AUTH_DEFAULT_PORT } from './auth-directory.js';
export { type ChainKind, classifyChain } from './open-policy.js';
export { ChainRefusal } from './refusal.js';
export { HostedChain, BATCH_EVENTS, BATCH_BYTES, MAX_UNSENT_BYTES, PARKED_TIMEOUT_MS } from './hosted-chain.js';
export { identityPath, readIdentity, loadOrCreateIdentity, identityFingerprint } from './identity.js';
