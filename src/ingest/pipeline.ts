// spool → parse → decide → commit: turns fetched raw messages of one mailbox into store commits.
// The raw bytes and attachments are durable (content-addressed, fsynced) before the commit that
// references them; the commit records the server action and checkpoint in the same durable write.
import type { Snapshot } from '../config/snapshot.js';
import type { AfterFetch, CheckpointInput, CommitItem, CommitResult, TicketStore } from '../store/index.js';
import { decideTicket } from './decide.js';
import type { ParsePool } from './parse-pool.js';
import type { ParsedMessage } from './parsed-message.js';

export interface FetchedMessage {
  /** 'imap:<mailbox>:<uidvalidity>:<uid>' or 'pop3:<mailbox>:<uidl>' */
  dedupeKey: string;
  /** Whole message; for a too-big message only its header block. */
  raw: Buffer;
  /** True when the message exceeded maxMessageSize and only its headers were fetched. */
  tooBig: boolean;
  size: number;
  /** Server arrival time (IMAP INTERNALDATE), for the lag metric. */
  serverDate: Date | null;
  afterFetch?: AfterFetch;
  checkpoint?: CheckpointInput;
  pop3Uidl?: { mailbox: string; uidl: string };
}

export interface PipelineContext {
  store: TicketStore;
  parser: ParsePool;
  snapshot: () => Snapshot;
}

export interface IngestOutcome {
  message: FetchedMessage;
  result: CommitResult;
  parsed: ParsedMessage;
}

export async function ingestBatch(ctx: PipelineContext, mailboxId: string, batch: FetchedMessage[]): Promise<IngestOutcome[]> {
  if (batch.length === 0) return [];
  const prepared = await Promise.all(batch.map((m) => prepare(ctx, mailboxId, m)));
  const results = await ctx.store.commit(prepared.map((p) => p.item));
  return prepared.map((p, i) => ({ message: batch[i]!, result: results[i]!, parsed: p.parsed }));
}

async function prepare(ctx: PipelineContext, mailboxId: string, m: FetchedMessage): Promise<{ item: CommitItem; parsed: ParsedMessage }> {
  // Spool first: the raw is durable before anything refers to it. parse() may transfer the buffer
  // to a worker, so hand it a copy.
  const rawRef = await ctx.store.blobs.put(m.raw);
  const parsed = await ctx.parser.parse(new Uint8Array(m.raw));
  await Promise.all(parsed.attachments.filter((a) => a.content.length > 0).map((a) => ctx.store.blobs.put(a.content)));
  const snap = ctx.snapshot();
  const decision = decideTicket(snap, mailboxId, parsed);
  const flags = [...parsed.problems.filter((p) => p === 'unparsed'), ...(m.tooBig ? ['too-big'] : [])];
  const dedupeKeys = [m.dedupeKey];
  if (parsed.messageId && !m.tooBig) dedupeKeys.push(`mid:${decision.company}:${parsed.messageId}`);
  const { reasons: _reasons, prefix, ...ticket } = decision;
  const item: CommitItem = {
    article: {
      dedupeKeys,
      mailbox: mailboxId,
      receivedAt: new Date().toISOString(),
      serverDate: m.serverDate?.toISOString() ?? null,
      messageId: parsed.messageId,
      inReplyTo: parsed.inReplyTo,
      references: parsed.references,
      subject: parsed.subject,
      from: parsed.from,
      to: parsed.to,
      cc: parsed.cc,
      headers: parsed.headers,
      text: parsed.text,
      html: parsed.html,
      attachments: parsed.attachments.map((a) => ({ id: a.id, filename: a.filename, contentType: a.contentType, size: a.size, inline: a.inline })),
      rawRef,
      size: m.size,
      flags: [...new Set([...flags, ...parsed.problems.map((p) => `parse:${p}`)])],
    },
    ticket: { ...ticket, prefix },
    ...(m.afterFetch && { afterFetch: m.afterFetch }),
    ...(m.checkpoint && { checkpoint: m.checkpoint }),
    ...(m.pop3Uidl && { pop3Uidl: m.pop3Uidl }),
  };
  return { item, parsed };
}
