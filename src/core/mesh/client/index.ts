export { type MeshStatus, type RecoveryMode, type RemoteChainOptions, RemoteChain } from './remote-chain.js';
