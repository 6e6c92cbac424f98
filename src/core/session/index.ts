export * from './session.js';
export * from './encoding.js';
export * from './token.js';
