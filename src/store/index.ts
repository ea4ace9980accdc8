// Why this file exists: the store's shapes and errors for the rest of mailroom (`./store/index.js`).
// The store itself is reached through the port (port.ts, opened by open.ts); the implementations
// (embedded/, postgres/, and the files the embedded one is made of) are the store's own business.
export { normalizeMessageId } from './indexes.js';
export * from './types.js';
export type { TightenedModes } from './permissions.js';
