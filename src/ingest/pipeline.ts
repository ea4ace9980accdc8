// spool → parse → decide → commit: turns fetched raw messages of one mailbox into store commits
// (prepareBatch: spool + parse; commitBatch: decide + commit), through the store's intake port.
// The raw bytes and attachments are durable (content-addressed) before the commit that references
// them; the commit records the server action and checkpoint (and webhook deliveries) atomically.
//
// Round trips: a batch is committed in segments (one, unless a message replies to or reuses the
// Message-ID of an earlier message of the same batch: that one must be committed first). Per
// segment: the facts decide() needs, asked once (what decide asks is recorded by a first, lookup-
// less run over the segment); the Message-ID dedupe facts for the decided companies, asked once;
// one commit.
import type { Snapshot } from '../config/snapshot.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { soleOwner, type Fence, type IntakeFacts, type IntakeItem, type IntakePort, type IntakeResult } from '../store/port.js';
import type { AfterFetch, CheckpointInput, CursorInput } from '../store/types.js';
import { contentHash } from './content-hash.js';
import { decide, senderRateQuestion, type Decision, type DecideInput } from './decide.js';
import { reportCommitted } from './ingest-report.js';
import { contentKey, decideMessageIdKeys, legacyMessageIdKey, type MessageIdDecision } from './message-id-dedupe.js';
import type { ParsePool } from './parse-pool.js';
import type { ParsedMessage } from './parsed-message.js';
import { spoolAndParseBatch, type Spooled } from './spool.js';
import { subjectTags, type ThreadLookups } from './thread.js';

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

/** A sliding-window counter that survives a restart (the store's control.hits). */
export interface RateCounter {
  /** A batch's hits in one call: the answers of hitting each in turn (each sees the ones before it). */
  hits(requests: { key: string; limit: number; now: number }[]): Promise<boolean[]>;
}

export interface PipelineContext {
  intake: IntakePort;
  /** The right to write for this mailbox (default: the sole owner's fence). */
  fence?: Fence;
  parser: ParsePool;
  snapshot: () => Snapshot;
  /** Per-sender new-ticket cap (loop guard), shared by all mailboxes. */
  senderRate?: RateCounter;
  /** Called for each new ticket once committed (acknowledgement mail); must not throw. */
  acknowledge?: (input: { ticketId: string; company: string; contract: string | null; mailbox: string; parsed: ParsedMessage; flags: string[] }) => void;
  /** The webhook sink (routes with deliver: [webhook:<id>]): told when a commit made deliveries. */
  webhooks?: { kick(): void };
  /** Warn lines for unparsed / too-big mail, info lines for held tickets (the poller's logger). */
  log?: Logger;
  /** mailroom_messages_flagged_total */
  metrics?: Metrics;
}

export interface IngestOutcome {
  message: FetchedMessage;
  result: IntakeResult;
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
 * Spool and parse (spool.ts: raws and attachments durable, one putBlobs per batch). It reads nothing
 * from the ticket store and writes only content-addressed blobs, so it may run while an earlier batch
 * of the same mailbox is being committed, and a crash or an abort after it leaves nothing to undo.
 */
export async function prepareBatch(ctx: PipelineContext, batch: FetchedMessage[]): Promise<PreparedBatch> {
  if (batch.length === 0) return { batch, spooled: [] };
  return { batch, spooled: await spoolAndParseBatch((items) => ctx.intake.putBlobs(items), batch.map((m) => m.raw), (raw) => ctx.parser.parse(raw)) };
}

/** Decide and commit a prepared batch, in order; batches of one mailbox must be committed in fetch order. */
export async function commitBatch(ctx: PipelineContext, mailboxId: string, prepared: PreparedBatch): Promise<IngestOutcome[]> {
  const { batch, spooled } = prepared;
  const results: IntakeResult[] = [];
  let start = 0;
  while (start < batch.length) {
    // A segment ends before a message that replies to, or reuses the Message-ID of, one in it.
    const ids = new Set<string>();
    let end = start;
    for (; end < batch.length; end++) {
      const p = spooled[end]!.parsed;
      if (end > start && [...p.inReplyTo, ...p.references, ...(p.messageId ? [p.messageId] : [])].some((id) => ids.has(id))) break;
      if (p.messageId) ids.add(p.messageId);
    }
    results.push(...(await commitSegment(ctx, mailboxId, batch.slice(start, end), spooled.slice(start, end))));
    start = end;
  }
  return batch.map((m, i) => ({ message: m, result: results[i]!, parsed: spooled[i]!.parsed }));
}

interface Planned {
  m: FetchedMessage;
  parsed: ParsedMessage;
  rawRef: string;
  input: DecideInput;
  d: Decision;
  mid: MessageIdDecision | null;
  /** content hash (content-hash.ts) when the message has a Message-ID */
  hash: string;
}

const HOUR = 3_600_000;

async function commitSegment(ctx: PipelineContext, mailboxId: string, batch: FetchedMessage[], spooled: Spooled[]): Promise<IntakeResult[]> {
  const snap = ctx.snapshot();
  // Routes judge the real size (a too-big message was parsed from its headers only) and the
  // schedule at the server's arrival time (a backlog read after downtime keeps its hours).
  const inputs: DecideInput[] = batch.map((m, i) => ({ snap, mailboxId, parsed: { ...spooled[i]!.parsed, size: m.size }, now: m.serverDate ?? new Date() }));
  // 1. What decide() asks, recorded by a run without answers (it asks at least as much as with them).
  const asked = { threadIds: new Map<string, Set<string>>(), ticketIds: new Set<string>() };
  const recorder: ThreadLookups = {
    findByMessageIds: (c, ids) => {
      const set = asked.threadIds.get(c) ?? asked.threadIds.set(c, new Set()).get(c)!;
      for (const id of ids) set.add(id);
      return null;
    },
    findTicket: (id) => (asked.ticketIds.add(id), null),
  };
  // (a message that names no Message-ID and carries no ticket tag asks nothing: no run needed)
  for (const input of inputs) if (input.parsed.inReplyTo.length || input.parsed.references.length || subjectTags(input.parsed.subject).length) decide({ ...input, lookups: recorder });
  const f1 = await ctx.intake.facts({ keys: [], threadIds: [...asked.threadIds].map(([company, ids]) => ({ company, ids: [...ids] })), ticketIds: [...asked.ticketIds] });
  const lookups = factLookups(f1);
  let planned: Planned[] = inputs.map((input, i) => {
    const parsed = spooled[i]!.parsed;
    return { m: batch[i]!, parsed, rawRef: spooled[i]!.rawRef, input: { ...input, lookups }, d: decide({ ...input, lookups }), mid: null, hash: parsed.messageId ? contentHash(parsed) : '' };
  });
  // 2. The Message-ID dedupe facts for the companies decided, asked once.
  const midKeys = planned.flatMap((p) => (p.parsed.messageId ? [contentKey(p.d.ticket.company, p.hash, p.parsed.messageId), legacyMessageIdKey(p.d.ticket.company, p.parsed.messageId)] : []));
  const legacyKeys = planned.flatMap((p) => (p.parsed.messageId ? [legacyMessageIdKey(p.d.ticket.company, p.parsed.messageId)] : []));
  const f2 = midKeys.length
    ? await ctx.intake.facts({ keys: midKeys, articlesOf: legacyKeys, threadIds: planned.flatMap((p) => (p.parsed.messageId ? [{ company: p.d.ticket.company, ids: [p.parsed.messageId] }] : [])), ticketIds: [], threadTickets: true })
    : null;
  planned = planned.map((p) => ({ ...p, mid: f2 ? messageIdDecision(f2, p.d.ticket.company, p.parsed, p.hash) : null }));
  // 3. The per-sender cap counts new tickets only (not a copy of a stored message); a subject-tag
  //    reply from a stranger counts too (tags are guessable): see decide(). The batch's hits go in
  //    one call, in batch order, each seeing the ones before it (the cap is exact); on PostgreSQL
  //    that is one statement per batch, not one per new ticket.
  if (ctx.senderRate) {
    const asked: { p: Planned; key: string; limit: number; now: number }[] = [];
    for (const p of planned) {
      if (p.mid?.copy) continue;
      const q = senderRateQuestion(p.input, p.d);
      if (q) asked.push({ p, key: q.key.toLowerCase(), limit: q.limit, now: p.input.now.getTime() });
    }
    if (asked.length) {
      const over = await ctx.senderRate.hits(asked.map(({ key, limit, now }) => ({ key, limit, now })));
      asked.forEach(({ p }, i) => {
        if (over[i]) p.d = decide({ ...p.input, senderRate: { hit: () => true } });
      });
    }
  }
  const items = planned.map((p) => buildItem(ctx, mailboxId, p));
  const committed = await ctx.intake.commit(items.map((x) => x.item), ctx.fence ?? soleOwner(mailboxId));
  committed.forEach((r, i) => reportCommitted(ctx, mailboxId, items[i]!.item, r, items[i]!.reasons));
  if (ctx.acknowledge)
    committed.forEach((r, i) => {
      const { item } = items[i]!;
      if (!r.created || r.duplicate) return;
      const status = item.ticket.status;
      ctx.acknowledge!({ ticketId: r.ticketId, company: item.ticket.company, contract: item.ticket.contract, mailbox: mailboxId, parsed: planned[i]!.parsed, flags: [...item.article.flags, ...(status !== 'open' ? [status] : [])] });
    });
  if (committed.some((r) => r.deliveries.length)) ctx.webhooks?.kick();
  return committed;
}

/** decide()'s lookups answered from the facts of a segment. */
function factLookups(f: IntakeFacts): ThreadLookups {
  return {
    findByMessageIds: (c, ids) => {
      for (const id of ids) {
        const hit = f.threadIds.get(`${c}\0${id}`);
        if (hit) return hit;
      }
      return null;
    },
    findTicket: (id) => {
      const t = f.tickets.get(id);
      return t ? t.summary : null;
    },
    participants: (id) => f.tickets.get(id)?.participants ?? null,
    status: (id) => f.tickets.get(id)?.summary.status ?? f.threadStatuses.get(id) ?? null,
  };
}

/** The store's side of the Message-ID dedupe decision: is this content known, what does an old article hold. */
function messageIdDecision(f: IntakeFacts, company: string, parsed: ParsedMessage, hash: string): MessageIdDecision | null {
  const id = parsed.messageId;
  if (!id) return null;
  const contentKnown = f.keys.has(contentKey(company, hash, id));
  let legacy: { contentHash: string | null } | null = null;
  let otherWithId = false;
  if (!contentKnown) {
    const ref = f.keys.get(legacyMessageIdKey(company, id));
    if (ref) legacy = { contentHash: ref.article ? contentHash(ref.article) : null };
    else {
      // only for the flag: the message is kept either way (the index also holds referenced ids)
      const ticketId = f.threadIds.get(`${company}\0${id}`);
      if (ticketId) otherWithId = f.tickets.get(ticketId)?.messageIds.includes(id) ?? false;
    }
  }
  return decideMessageIdKeys({ company, messageId: id, contentHash: hash, contentKnown, legacy, otherWithId });
}

function buildItem(ctx: PipelineContext, mailboxId: string, p: Planned): { item: IntakeItem; reasons: string[] } {
  const { m, parsed, rawRef, d, mid } = p;
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
  const item: IntakeItem = {
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
    ...(d.threadTo && d.reopen && { reopen: d.reopen }),
    ...(m.afterFetch && { afterFetch: m.afterFetch }),
    ...(m.checkpoint && { checkpoint: m.checkpoint }),
    ...(m.pop3Uidl && { pop3Uidl: m.pop3Uidl }),
    ...(m.cursor && { cursor: m.cursor }),
  };
  // Dropped mail is delivered nowhere (its raw is kept in the store); held mail's webhooks wait in the queue for approval.
  const deliver = d.drop ? [] : d.deliver;
  const hooks = ctx.webhooks ? deliver.filter((x) => x.startsWith('webhook:')).map((x) => x.slice(8)) : [];
  // Mail routed only to webhooks leaves the server once they have it (the action is gated on them).
  if (hooks.length) item.deliveries = { webhooks: hooks, gated: !(deliver.includes('store') || !ctx.webhooks) };
  return { item, reasons };
}
