// Why this file exists: a fetched batch's raw bytes and their attachments are written to the blob
// store (content-addressed, durable) while they are parsed, and the result is what the commit is built
// from, so the raw is durable before the commit that references it. The writes run on the main
// thread's libuv pool while a worker parses: measured, a parse worker doing them itself (its
// event loop busy parsing while its writes wait) ingested ~25% slower.
import type { ParsedMessage } from './parsed-message.js';

export interface Spooled {
  parsed: ParsedMessage;
  /** sha256 of the raw message, durable in the blob store */
  rawRef: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Spool and parse a whole batch: the raws are written while they are parsed, then the attachments,
 * each as one putBlobs (one directory fsync per directory for the lot, not one per file).
 * Resolves in order, once everything is durable; rejects only when the blob store cannot be written.
 */
export async function spoolAndParseBatch(putBlobs: (items: Uint8Array[]) => Promise<string[]>, raws: Uint8Array[], parse: (raw: Uint8Array) => Promise<ParsedMessage>): Promise<Spooled[]> {
  const rawRefs = putBlobs(raws);
  rawRefs.catch(() => {}); // a write error surfaces from the Promise.all below
  const parsed = await Promise.all(raws.map((raw) => parse(raw)));
  const [refs] = await Promise.all([rawRefs, putBlobs(parsed.flatMap((p) => p.attachments.filter((a) => a.content.length > 0).map((a) => a.content)))]);
  return parsed.map((p, i) => ({ parsed: { ...p, attachments: p.attachments.map((a) => ({ ...a, content: EMPTY })) }, rawRef: refs[i]! }));
}
