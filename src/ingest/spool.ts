// Why this file exists: a fetched message's raw bytes and its attachments are written to the blob
// store (content-addressed, durable) beside its parse. One function, used by the parse workers (so
// the main thread, which also runs every poller and the store, spends nothing on hashing and file
// system calls) and by the main thread when a worker is not available.
import type { BlobStore } from '../store/blobs.js';
import type { ParsedMessage } from './parsed-message.js';

export interface Spooled {
  parsed: ParsedMessage;
  /** sha256 of the raw message, durable in the blob store */
  rawRef: string;
}

/**
 * Put `raw` while `parse` runs, then the attachments; resolves once all are durable. Attachment
 * contents are dropped from the result afterwards (they live in the blob store under their id),
 * so they never travel back from a worker or sit in the main thread's memory.
 */
export async function spoolAndParse(blobs: BlobStore, raw: Uint8Array, parse: (raw: Uint8Array) => Promise<ParsedMessage>): Promise<Spooled> {
  const spooled = blobs.put(raw);
  spooled.catch(() => {}); // a write error surfaces from the Promise.all below
  const parsed = await parse(raw);
  const [rawRef] = await Promise.all([spooled, ...parsed.attachments.filter((a) => a.content.length > 0).map((a) => blobs.put(a.content))]);
  return { parsed: { ...parsed, attachments: parsed.attachments.map((a) => ({ ...a, content: EMPTY })) }, rawRef: rawRef! };
}

const EMPTY = new Uint8Array(0);
