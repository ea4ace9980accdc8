// spool → parse → decide → commit: turns fetched raw messages of one mailbox into store commits
// (prepareBatch: spool + parse; commitBatch: decide + commit).
// The raw bytes and attachments are durable (content-addressed, fsynced) before the commit that
// references them; the commit records the server action and checkpoint in the same durable write.
import type { Snapshot } from '../config/snapshot.js';
import type { AfterFetch, CheckpointInput, CommitItem, CommitResult, CursorInput, TicketStore } from '../store/index.js';
import type { SenderRate } from './classify.js';
import { decide, type Decision } from './decide.js';
import type { WebhookQueue } from '../sinks/webhook/queue.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { contentHash } from './content-hash.js';
import { reportCommitted } from './ingest-report.js';
import { contentKey, decideMessageIdKeys, legacyMessageIdKey, type MessageIdDecision } from './message-id-dedupe.js';
import type { ParsePool } from './parse-pool.js';
import type { ParsedMessage } from './parsed-message.js';
import { spoolAndParseBatch, type Spooled } from './spool.js';
import { tagParticipants } from './ticket-participants.js';

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
  /** Graph/Gmail: the sync cursor replaced by this message's commit */
  cursor?: CursorInput;
}

export interface PipelineContext {
  store: TicketStore;
  parser: ParsePool;
  snapshot: () => Snapshot;
  /** Per-sender new-ticket cap (loop guard), shared by all mailboxes. */
  senderRate?: SenderRate;
  /** Called for each new ticket once committed (acknowledgement mail); must not throw. */
  acknowledge?: (input: { ticketId: string; company: string; contract: string | null; mailbox: string; parsed: ParsedMessage; flags: string[] }) => void;
  /** The webhook sink's durable queue (routes with deliver: [webhook:<id>]). */
  webhooks?: { queue: WebhookQueue; kick(): void };
  /** Warn lines for unparsed / too-big mail, info lines for held tickets (the poller's logger). */
  log?: Logger;
  /** mailroom_messages_flagged_total */
  metrics?: Metrics;
}

export interface IngestOutcome {
  message: FetchedMessage;
  result: CommitResult;
  parsed: ParsedMessage;
}

export async function ingestBatch(ctx: PipelineContext, mailboxId: string, batch: FetchedMessage[]): Promise<IngestOutcome[]> {
  return commitBatch(ctx, mailboxId, await prepareBatch(ctx, batch));
}

/** A fetched batch, spooled and parsed: nothing of it is committed yet. */
export interface PreparedBatch {
  batch: FetchedMessage[];
  spooled: Spooled[];
}

/**
 * Spool and parse (spool.ts: raws and attachments durable, one putMany per batch). It reads nothing
 * from the ticket store and writes only content-addressed blobs, so it may run while an earlier batch
 * of the same mailbox is being committed, and a crash or an abort after it leaves nothing to undo.
 */
export async function prepareBatch(ctx: PipelineContext, batch: FetchedMessage[]): Promise<PreparedBatch> {
  if (batch.length === 0) return { batch, spooled: [] };
  return { batch, spooled: await spoolAndParseBatch(ctx.store.blobs, batch.map((m) => m.raw), (raw) => ctx.parser.parse(raw)) };
}

/** Decide and commit a prepared batch, in order; batches of one mailbox must be committed in fetch order. */
export async function commitBatch(ctx: PipelineContext, mailboxId: string, prepared: PreparedBatch): Promise<IngestOutcome[]> {
  const { batch, spooled: parsedAll } = prepared;
  if (batch.length === 0) return [];
  // Decide in order. A message replying to an earlier one of the same batch needs that one's ticket
  // id, which exists only once committed: commit the batch so far first, then decide it.
  const results: CommitResult[] = [];
  let pending: { item: CommitItem; hooks: string[]; storeToo: boolean; parsed: ParsedMessage; reasons: string[] }[] = [];
  let pendingIds = new Set<string>();
  const flush = async () => {
    if (!pending.length) return;
    const batchItems = pending;
    pending = [];
    pendingIds = new Set();
    const hooked = batchItems.filter((p) => p.hooks.length);
    // Webhook intent is durable before the commit: a crash in between cannot lose a delivery.
    if (hooked.length && ctx.webhooks)
      await ctx.webhooks.queue.intend(hooked.map((p) => ({ key: p.item.article.dedupeKeys[0]!, mailbox: mailboxId, webhooks: p.hooks, gated: !p.storeToo })));
    const committed = await ctx.store.commit(batchItems.map((p) => p.item));
    results.push(...committed);
    committed.forEach((r, i) => reportCommitted(ctx, mailboxId, batchItems[i]!.item, r, batchItems[i]!.reasons));
    if (ctx.acknowledge)
      committed.forEach((r, i) => {
        const { item, parsed } = batchItems[i]!;
        if (!r.created || r.duplicate) return;
        const status = item.ticket.status;
        ctx.acknowledge!({ ticketId: r.ticketId, company: item.ticket.company, contract: item.ticket.contract, mailbox: mailboxId, parsed, flags: [...item.article.flags, ...(status !== 'open' ? [status] : [])] });
      });
    if (hooked.length && ctx.webhooks) {
      for (let i = 0; i < batchItems.length; i++) {
        const p = batchItems[i]!;
        const r = committed[i]!;
        if (!p.hooks.length) continue;
        // A duplicate gets no new deliveries (its first copy has them); enqueue() is idempotent anyway.
        await ctx.webhooks.queue.enqueue({
          key: p.item.article.dedupeKeys[0]!,
          mailbox: mailboxId,
          webhooks: r.duplicate ? [] : p.hooks,
          ticketId: r.ticketId,
          articleNo: r.articleNo,
          gate: p.storeToo ? null : r.actionId,
        });
      }
      ctx.webhooks.kick();
    }
  };
  for (let i = 0; i < batch.length; i++) {
    const { parsed, rawRef } = parsedAll[i]!;
    // a reply to a message of this batch needs its ticket; a second message with the same Message-ID
    // must be compared with the first one's stored content (message-id-dedupe.ts)
    if ([...parsed.inReplyTo, ...parsed.references, ...(parsed.messageId ? [parsed.messageId] : [])].some((id) => pendingIds.has(id))) await flush();
    const participants = await tagParticipants(ctx.store, parsed.subject);
    const { item, deliver, reasons } = await buildItem(ctx, mailboxId, batch[i]!, parsed, rawRef, participants);
    const hooks = deliver.filter((x) => x.startsWith('webhook:')).map((x) => x.slice(8));
    pending.push({ item, parsed, reasons, hooks: ctx.webhooks ? hooks : [], storeToo: deliver.includes('store') || !ctx.webhooks || hooks.length === 0 });
    if (parsed.messageId) pendingIds.add(parsed.messageId);
  }
  await flush();
  return batch.map((m, i) => ({ message: m, result: results[i]!, parsed: parsedAll[i]!.parsed }));
}


/** The store's side of the Message-ID dedupe decision: is this content known, what does an old article hold. */
async function messageIdKeys(store: TicketStore, company: string, parsed: ParsedMessage): Promise<MessageIdDecision | null> {
  const id = parsed.messageId;
  if (!id) return null;
  const hash = contentHash(parsed);
  const contentKnown = store.hasKey(contentKey(company, hash, id));
  const load = (ticketId: string) => store.getTicket(ticketId).catch(() => null);
  let legacy: { contentHash: string | null } | null = null;
  let otherWithId = false;
  if (!contentKnown) {
    const ref = store.findKey(legacyMessageIdKey(company, id));
    if (ref) {
      const a = (await load(ref.ticketId))?.articles[ref.articleNo - 1];
      legacy = { contentHash: a ? contentHash(a) : null };
    } else {
      // only for the flag: the message is kept either way (the index also holds referenced ids)
      const ticketId = store.findByMessageIds(company, [id]);
      if (ticketId) otherWithId = Boolean((await load(ticketId))?.articles.some((a) => a.messageId === id));
    }
  }
  return decideMessageIdKeys({ company, messageId: id, contentHash: hash, contentKnown, legacy, otherWithId });
}

async function buildItem(
  ctx: PipelineContext, mailboxId: string, m: FetchedMessage, parsed: ParsedMessage, rawRef: string, participants: Map<string, string[]>,
): Promise<{ item: CommitItem; deliver: string[]; reasons: string[] }> {
  const store = ctx.store;
  // Routes judge the real size (a too-big message was parsed from its headers only) and the
  // schedule at the server's arrival time (a backlog read after downtime keeps its hours).
  const input = {
    snap: ctx.snapshot(),
    mailboxId,
    parsed: { ...parsed, size: m.size },
    now: m.serverDate ?? new Date(),
    lookups: {
      findByMessageIds: (c: string, ids: string[]) => store.findByMessageIds(c, ids),
      findTicket: (id: string) => store.findByTicketId(id),
      participants: (id: string) => participants.get(id) ?? null,
    },
  };
  let d: Decision = decide(input);
  const mid = await messageIdKeys(store, d.ticket.company, parsed);
  // The per-sender cap counts new tickets only: not a copy of a stored message.
  const known = mid?.copy ?? false;
  // A subject-tag reply from a stranger counts too (tags are guessable): see decide().
  if (ctx.senderRate && !known && (!d.threadTo || d.flags.includes('thread-unverified-sender'))) d = decide({ ...input, senderRate: ctx.senderRate });
  const decision = d.ticket;
  // 'unparsed' and 'html-too-large' are the article's own flags, not repeated as 'parse:...'.
  const own = (p: string): boolean => p === 'unparsed' || p === 'html-too-large';
  const flags = [
    ...parsed.problems.filter(own),
    ...(m.tooBig ? ['too-big'] : []),
    ...d.flags,
    ...(mid?.flag ? [mid.flag] : []),
    ...(decision.status === 'held' ? d.holds.map((h) => `held:${h}`) : []),
    ...(d.drop ? [`dropped:${d.drop}`] : []),
  ];
  // A too-big message keeps its Message-ID key too: its stand-in has the real header block, and
  // without the key a UIDVALIDITY rescan (or a second copy) ticketed it twice.
  const dedupeKeys = [m.dedupeKey, ...(mid?.keys ?? [])];
  const { reasons, prefix, ...ticket } = decision;
  if (mid?.reason) reasons.push(mid.reason);
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
      ...(parsed.safeHtml !== undefined && { safeHtml: parsed.safeHtml }),
      attachments: parsed.attachments.map((a) => ({ id: a.id, filename: a.filename, contentType: a.contentType, size: a.size, inline: a.inline, ...(a.contentId && { contentId: a.contentId }) })),
      rawRef,
      size: m.size,
      flags: [...new Set([...flags, ...parsed.problems.filter((p) => !own(p)).map((p) => `parse:${p}`)])],
    },
    ticket: { ...ticket, prefix },
    ...(d.threadTo && { threadTo: d.threadTo }),
    ...(m.afterFetch && { afterFetch: m.afterFetch }),
    ...(m.checkpoint && { checkpoint: m.checkpoint }),
    ...(m.pop3Uidl && { pop3Uidl: m.pop3Uidl }),
    ...(m.cursor && { cursor: m.cursor }),
  };
  // Dropped mail is delivered nowhere (its raw is kept in the store); held mail's webhooks wait in the queue for approval.
  return { item, deliver: d.drop ? [] : d.deliver, reasons };
}
