// Why this file exists: a fetched message's raw bytes and its attachments are written to the blob
// store (content-addressed, durable) while it is parsed, and the result is what the commit is built
// from, so the raw is durable before the commit that references it. The writes run on the main
// thread's libuv pool while a worker parses: measured, a parse worker doing them itself (its
// event loop busy parsing while its writes wait) ingested ~25% slower.
import type { BlobStore } from '../store/blobs.js';
import type { ParsedMessage } from './parsed-message.js';

export interface Spooled {
  parsed: ParsedMessage;
  /** sha256 of the raw message, durable in the blob store */
  rawRef: string;
}

/**
 * Put `raw` while `parse` runs, then the attachments; resolves once all are durable, and rejects
 * only when the blob store cannot be written (never for the message's content). Attachment
 * contents are dropped from the result afterwards (they live in the blob store under their id),
 * so they do not sit in memory while the batch is committed.
 */
export async function spoolAndParse(blobs: BlobStore, raw: Uint8Array, parse: (raw: Uint8Array) => Promise<ParsedMessage>): Promise<Spooled> {
  const spooled = blobs.put(raw);
  spooled.catch(() => {}); // a write error surfaces from the Promise.all below
  const parsed = await parse(raw);
  const [rawRef] = await Promise.all([spooled, ...parsed.attachments.filter((a) => a.content.length > 0).map((a) => blobs.put(a.content))]);
  return { parsed: { ...parsed, attachments: parsed.attachments.map((a) => ({ ...a, content: EMPTY })) }, rawRef: rawRef! };
}

const EMPTY = new Uint8Array(0);
