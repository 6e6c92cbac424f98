export * from './ids.js';
export * from './metadata.js';
export * from './encoding.js';
