// Why this file exists: the one import path for the rest of mailroom (`./store/index.js`), so the
// store's internal file split can change without touching pollers or the API.
export { openTicketStore, type TicketStore } from './ticket-store.js';
export { BlobStore, openBlobStore, sha256Hex } from './blobs.js';
export { DurableJSONFile, writeFileDurable, writeDurableBatch, readTextIfExists } from './durable-file.js';
export { normalizeMessageId } from './indexes.js';
export * from './types.js';
export { tightenStoreModes, type TightenedModes } from './permissions.js';
