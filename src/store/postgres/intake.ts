// Why this file exists: the PostgreSQL store's intake port. facts() answers a whole batch with three
// statements pipelined in one round trip. commit() writes a whole batch in ONE transaction with a
// constant number of round trips whatever its size: BEGIN; the fence, the batch's known keys, its
// threading targets (FOR UPDATE) and identical pending actions (one pipelined round trip); ticket
// counters, the creation sequence and action ids (one); every insert/update as one multi-row
// statement each via json_to_recordset (one pipelined round trip), then the articles, most of the
// batch's bytes, as one binary COPY (two: copy.ts); COMMIT. The decisions in between
// are pure (plan.ts). A concurrent commit that wrote the same key or action first makes this one
// fail on a unique constraint; it is retried from the start and then sees it as a duplicate.
import { deliveryId } from '../embedded/webhook-queue.js';
import { validateItems } from '../apply.js';
import { normalizeMessageId } from '../indexes.js';
import type { ArticleRef, Fence, IntakeFacts, IntakeFactsQuery, IntakeItem, IntakePort, IntakeResult, TicketFact } from '../port.js';
import type { DeliveryRecord } from '../delivery-types.js';
import { StoreError, type Article, type TicketStatus } from '../types.js';
import type { Blobs } from './blobs.js';
import type { Sql, Tx } from './connect.js';
import { checkFence } from './fence.js';
import { copyInto, int4, text, timestamptz } from './copy.js';
import { actionKey, assignIds, planCommit, prefixCounts, type CommitPlan, type KnownTarget } from './plan.js';
import { TICKET_COLUMNS, pgText, recordset, summaryOf, ticketHead, type TicketRow } from './rows.js';

/** A subject full of tags must not make one batch read many tickets (as in the embedded store). */
const MAX_TICKET_FACTS = 64;
const MAX_TRIES = 5;
/** unique_violation, serialization_failure, deadlock_detected: another writer came first; retry. */
const RETRYABLE = new Set(['23505', '40001', '40P01']);

export class PostgresIntake implements IntakePort {
  /** Round trips of the last commit (for tests and benchmarks). */
  lastCommitRoundTrips = 0;

  constructor(
    private readonly sql: Sql,
    private readonly blobs: Blobs,
  ) {}

  async facts(q: IntakeFactsQuery): Promise<IntakeFacts> {
    const keys = [...new Set(q.keys)];
    const pairs: { company: string; message_id: string }[] = [];
    const asked = new Map<string, string[]>(); // company\0normalized → asked spellings
    for (const { company, ids } of q.threadIds)
      for (const id of ids) {
        const m = pgText(normalizeMessageId(id));
        if (m === '') continue;
        const k = `${company}\0${m}`;
        if (!asked.has(k)) {
          asked.set(k, []);
          pairs.push({ company, message_id: m });
        }
        asked.get(k)!.push(id);
      }
    const ticketIds = [...new Set(q.ticketIds)].slice(0, MAX_TICKET_FACTS);
    const whole = [...new Set(q.articlesOf ?? [])].filter((k) => keys.includes(k)).map(pgText);
    const threadTickets = Boolean(q.threadTickets) && pairs.length > 0;
    const [keyRows, midRows, ticketRows, articleRows] = await Promise.all([
      keys.length ? this.sql<{ key: string; ticket_id: string; article_no: number }[]>`
        SELECT key, ticket_id, article_no FROM dedupe_keys WHERE key = ANY(${keys.map(pgText)}::text[])` : [],
      pairs.length ? this.sql<{ company: string; message_id: string; ticket_id: string; status: TicketStatus }[]>`
        SELECT m.company, m.message_id, m.ticket_id, t.status FROM message_ids m
        JOIN json_to_recordset(${recordset(pairs)}::text::json) AS x(company text, message_id text) USING (company, message_id)
        JOIN tickets t ON t.id = m.ticket_id` : [],
      ticketIds.length || threadTickets ? this.sql<(TicketRow & { participants: string[]; message_ids: string[] })[]>`
        SELECT ${this.sql.unsafe(TICKET_COLUMNS)}, participants,
          (SELECT coalesce(array_agg(a.data::json->>'messageId') FILTER (WHERE a.data::json->>'messageId' IS NOT NULL), '{}') FROM articles a WHERE a.ticket_id = tickets.id) AS message_ids
        FROM tickets WHERE id IN (SELECT unnest(${ticketIds}::text[]) -- (a UNION: \`id = ANY(..) OR id IN (..)\` scanned every ticket)
          UNION SELECT m.ticket_id FROM message_ids m JOIN json_to_recordset(${recordset(pairs)}::text::json) AS x(company text, message_id text) USING (company, message_id)
                WHERE ${threadTickets})
        LIMIT ${MAX_TICKET_FACTS * 2}` : [],
      whole.length ? this.sql<{ key: string; data: string | null }[]>`
        SELECT d.key, a.data FROM dedupe_keys d LEFT JOIN articles a ON a.ticket_id = d.ticket_id AND a.no = d.article_no
        WHERE d.key = ANY(${whole}::text[])` : [],
    ]);
    const byKey = new Map(keyRows.map((r) => [r.key, r]));
    const articles = new Map(articleRows.map((r) => [r.key, r.data]));
    const out: IntakeFacts = { keys: new Map<string, ArticleRef>(), threadIds: new Map(), threadStatuses: new Map(), tickets: new Map<string, TicketFact>() };
    for (const k of keys) {
      const r = byKey.get(pgText(k));
      if (!r) continue;
      const ref: ArticleRef = { ticketId: r.ticket_id, articleNo: Number(r.article_no) };
      if (articles.has(pgText(k))) {
        const data = articles.get(pgText(k));
        ref.article = data ? (JSON.parse(data) as Article) : null;
      }
      out.keys.set(k, ref);
    }
    for (const r of midRows) {
      out.threadStatuses.set(r.ticket_id, r.status);
      for (const id of asked.get(`${r.company}\0${r.message_id}`) ?? []) out.threadIds.set(`${r.company}\0${id}`, r.ticket_id);
    }
    for (const r of ticketRows) out.tickets.set(r.id, { summary: summaryOf(r), participants: [...(r.participants ?? [])], messageIds: [...(r.message_ids ?? [])] });
    return out;
  }

  putBlobs(items: (Uint8Array | string)[]): Promise<string[]> {
    return this.blobs.put(items);
  }

  async commit(items: IntakeItem[], fence: Fence): Promise<IntakeResult[]> {
    validateItems(items);
    if (items.length === 0) return [];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#commitOnce(items, fence);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (attempt < MAX_TRIES && code !== undefined && RETRYABLE.has(code)) continue;
        if (e instanceof StoreError) throw e;
        throw new StoreError('failed', `commit failed: ${(e as Error).message}`);
      }
    }
  }

  async #commitOnce(items: IntakeItem[], fence: Fence): Promise<IntakeResult[]> {
    let trips = 2; // BEGIN, COMMIT
    const result = await this.sql.begin(async (tx) => {
      const now = new Date();
      const nowIso = now.toISOString();
      const keys = [...new Set(items.flatMap((i) => i.article.dedupeKeys.map(pgText)))];
      const targets = [...new Set(items.flatMap((i) => (i.threadTo !== undefined ? [i.threadTo] : [])))].sort();
      const actionKeys = [...new Set(items.flatMap((i) => (i.afterFetch && i.afterFetch.action !== 'keep' ? [actionKey(i.afterFetch)] : [])))];
      // Round trip: fence, known keys, threading targets (locked), identical pending actions.
      trips++;
      const [, keyRows, targetRows, actionRows] = await Promise.all([
        checkFence(tx, fence),
        tx<{ key: string; ticket_id: string; article_no: number }[]>`SELECT key, ticket_id, article_no FROM dedupe_keys WHERE key = ANY(${keys}::text[])`,
        targets.length
          ? tx<{ id: string; company: string; status: KnownTarget['status']; article_count: number; participants: string[] }[]>`
              SELECT id, company, status, article_count, participants FROM tickets WHERE id = ANY(${targets}::text[]) ORDER BY id FOR UPDATE`
          : Promise.resolve([]),
        actionKeys.length ? tx<{ id: string; action_key: string }[]>`SELECT id, action_key FROM pending_actions WHERE action_key = ANY(${actionKeys}::text[])` : Promise.resolve([]),
      ]);
      const plan = planCommit({
        items,
        knownKeys: new Map(keyRows.map((r) => [r.key, { ticketId: r.ticket_id, articleNo: Number(r.article_no) }])),
        targets: new Map(targetRows.map((r) => [r.id, { id: r.id, company: r.company, status: r.status, articleCount: Number(r.article_count), participants: [...(r.participants ?? [])] }])),
        pendingActions: new Map(actionRows.map((r) => [r.action_key, r.id])),
        now: nowIso,
      });
      // Round trip: counters per prefix, the creation sequence (its row lock orders visibility), action ids.
      const counts = prefixCounts(plan);
      if (counts.length || plan.newActions.length) trips++;
      const [counterRows, seqRows, actionIdRows] = await Promise.all([
        counts.length
          ? tx<{ prefix: string; last: string }[]>`
              INSERT INTO ticket_counters (prefix, last) SELECT prefix, last FROM json_to_recordset(${recordset(counts)}::text::json) AS x(prefix text, last bigint)
              ON CONFLICT (prefix) DO UPDATE SET last = ticket_counters.last + excluded.last RETURNING prefix, last`
          : Promise.resolve([]),
        counts.length ? tx<{ last: string }[]>`UPDATE ticket_seq SET last = last + ${plan.newTickets.length} RETURNING last` : Promise.resolve([]),
        plan.newActions.length ? tx<{ n: string }[]>`SELECT nextval('pending_action_ids') AS n FROM generate_series(1, ${plan.newActions.length})` : Promise.resolve([]),
      ]);
      assignIds(plan, new Map(counterRows.map((r) => [r.prefix, Number(r.last)])), Number(seqRows[0]?.last ?? 0), actionIdRows.map((r) => Number(r.n)));
      const deliveries = plannedDeliveries(plan, now);
      // Round trip: every write of the batch, one statement per table, pipelined.
      trips++;
      const [, , , , , , , , inserted] = await Promise.all(writes(tx, plan, deliveries, nowIso));
      // Round trips: the articles, most of the batch's bytes, as binary COPY (after the tickets
      // they reference; a COPY cannot share the connection with pipelined statements).
      if (plan.articles.length) {
        trips += 2;
        const at = timestamptz(now.getTime());
        await copyInto(tx, 'articles (ticket_id, no, created_at, data)', plan.articles.map((a) => [text(a.ticket.id), int4(a.no), at, text(JSON.stringify(a.article))]));
      }
      const created = new Set((inserted as { id: string }[]).map((r) => r.id));
      return plan.items.map((p, i): IntakeResult => ({
        ticketId: p.ticket.id,
        articleNo: p.articleNo,
        duplicate: p.duplicate,
        created: p.created,
        ...(p.reopened && { reopened: true as const }),
        actionId: p.action?.id ?? null,
        deliveries: deliveries[i]!.filter((d) => created.has(d.id)),
      }));
    });
    this.lastCommitRoundTrips = trips;
    return result as IntakeResult[];
  }
}

/** The deliveries each item creates (the store's insert keeps only ids not seen before). */
function plannedDeliveries(plan: CommitPlan, now: Date): DeliveryRecord[][] {
  return plan.items.map((p) => {
    if (!p.deliveries) return [];
    const { status } = p.deliveries;
    return p.deliveries.webhooks.map((webhook) => ({
      id: deliveryId(webhook, p.ticket.id, p.articleNo),
      webhook,
      ticketId: p.ticket.id,
      articleNo: p.articleNo,
      // A reply that reopened a rejected ticket announces it: no webhook has seen the ticket.
      event: p.articleNo === 1 || p.reopened ? 'ticket.created' : 'article.created',
      mailbox: p.mailbox,
      key: p.key,
      // A held ticket's deliveries hold no server action (approval may take days).
      gate: status === 'pending' && p.deliveries!.gated ? (p.action?.id ?? null) : null,
      status,
      attempts: 0,
      nextAt: now.getTime(),
      lastError: null,
      lastStatus: null,
      createdAt: now.toISOString(),
      finishedAt: status === 'cancelled' ? now.toISOString() : null,
    }));
  });
}

const none = Promise.resolve([] as unknown[]);

/** The batch's statements, in an order that satisfies foreign keys (tickets before articles). */
function writes(tx: Tx, plan: CommitPlan, deliveries: DeliveryRecord[][], nowIso: string): Promise<unknown>[] {
  const newTickets = plan.newTickets.map(({ ref, item }) => ({
    id: ref.id, seq: ref.seq, prefix: ref.prefix, company: item.ticket.company, contract: item.ticket.contract ?? null, status: item.ticket.status,
    type: item.ticket.type ?? null, group: item.ticket.group ?? null, priority: item.ticket.priority ?? null, tags: item.ticket.tags ?? [], fields: item.ticket.fields ?? {},
    head: ticketHead(item.article.subject, item.article.from), participants: [...ref.participants], at: nowIso,
  }));
  const touched = new Map<string, { id: string; article_count: number; participants: string[]; at: string }>();
  for (const a of plan.articles) if (!a.ticket.isNew) touched.set(a.ticket.id, { id: a.ticket.id, article_count: a.ticket.articleCount, participants: [...a.ticket.participants], at: nowIso });
  const reopened = [...new Set(plan.articles.map((a) => a.ticket))].flatMap((t) => (t.reopened ? [{ id: t.id, from: t.reopened.from, to: t.reopened.to }] : []));
  const keys = plan.articles.flatMap((a) => a.keys.map((key) => ({ key, ticket_id: a.ticket.id, article_no: a.no })));
  const aliases = plan.aliases.map((a) => ({ key: a.key, ticket_id: a.ticket.id, article_no: a.articleNo }));
  const mids = plan.messageIds.map((m) => ({ company: m.company, message_id: m.messageId, ticket_id: m.ticket.id }));
  const actions = plan.newActions.map((a) => ({
    id: a.id, action_key: a.key, mailbox: a.afterFetch.mailbox, kind: a.afterFetch.kind, folder: a.afterFetch.folder ?? null, uid_validity: a.afterFetch.uidValidity ?? null,
    uid: a.afterFetch.uid ?? null, uidl: a.afterFetch.uidl ?? null, remote_id: a.afterFetch.remoteId ?? null, action: a.afterFetch.action, move_to: a.afterFetch.moveTo ?? null, ticket_id: a.ticket.id, article_no: a.articleNo, at: nowIso,
  }));
  const dels = deliveries.flat().map((d) => ({
    id: d.id, webhook: d.webhook, ticket_id: d.ticketId, article_no: d.articleNo, event: d.event, mailbox: d.mailbox, key: pgText(d.key), gate: d.gate, status: d.status,
    next_at: d.nextAt, created_at: d.createdAt, finished_at: d.finishedAt,
  }));
  return [
    newTickets.length
      ? tx`INSERT INTO tickets (id, seq, prefix, company, contract, status, type, "group", priority, tags, fields, head, participants, created_at, updated_at, article_count, last_article_at)
           SELECT id, seq, prefix, company, contract, status, type, "group", priority, tags, fields, head, participants, at, at, 1, at
           FROM json_to_recordset(${recordset(newTickets)}::text::json)
             AS x(id text, seq bigint, prefix text, company text, contract text, status text, type text, "group" text, priority text, tags jsonb, fields jsonb, head text, participants text[], at timestamptz)`
      : none,
    touched.size
      ? tx`UPDATE tickets t SET article_count = x.article_count, updated_at = x.at, last_article_at = x.at, participants = x.participants
           FROM json_to_recordset(${recordset([...touched.values()])}::text::json) AS x(id text, article_count integer, participants text[], at timestamptz)
           WHERE t.id = x.id`
      : none,
    // A key written by a concurrent commit makes this insert fail: the batch is retried and sees it.
    keys.length
      ? tx`INSERT INTO dedupe_keys (key, ticket_id, article_no)
           SELECT key, ticket_id, article_no FROM json_to_recordset(${recordset(keys)}::text::json) AS x(key text, ticket_id text, article_no integer)`
      : none,
    aliases.length
      ? tx`INSERT INTO dedupe_keys (key, ticket_id, article_no)
           SELECT key, ticket_id, article_no FROM json_to_recordset(${recordset(aliases)}::text::json) AS x(key text, ticket_id text, article_no integer)
           ON CONFLICT (key) DO NOTHING`
      : none,
    mids.length
      ? tx`INSERT INTO message_ids (company, message_id, ticket_id)
           SELECT company, message_id, ticket_id FROM json_to_recordset(${recordset(mids)}::text::json) AS x(company text, message_id text, ticket_id text)
           ON CONFLICT (company, message_id) DO NOTHING`
      : none,
    actions.length
      ? tx`INSERT INTO pending_actions (id, action_key, mailbox, kind, folder, uid_validity, uid, uidl, remote_id, action, move_to, ticket_id, article_no, created_at)
           SELECT id, action_key, mailbox, kind, folder, uid_validity, uid, uidl, remote_id, action, move_to, ticket_id, article_no, at
           FROM json_to_recordset(${recordset(actions)}::text::json)
             AS x(id text, action_key text, mailbox text, kind text, folder text, uid_validity bigint, uid bigint, uidl text, remote_id text, action text, move_to text, ticket_id text, article_no integer, at timestamptz)`
      : none,
    // Never backwards; another UIDVALIDITY than the stored one is a stale commit and ignored.
    plan.checkpoints.length
      ? tx`INSERT INTO checkpoints (mailbox, folder, uid_validity, uid)
           SELECT "mailbox", folder, "uidValidity", uid FROM json_to_recordset(${recordset(plan.checkpoints)}::text::json) AS x("mailbox" text, folder text, "uidValidity" bigint, uid bigint)
           ON CONFLICT (mailbox, folder) DO UPDATE SET uid = GREATEST(checkpoints.uid, excluded.uid)
           WHERE checkpoints.uid_validity = excluded.uid_validity`
      : none,
    plan.uidls.length
      ? tx`INSERT INTO uidls (mailbox, uidl) SELECT "mailbox", uidl FROM json_to_recordset(${recordset(plan.uidls)}::text::json) AS x("mailbox" text, uidl text)
           ON CONFLICT DO NOTHING`
      : none,
    dels.length
      ? tx`INSERT INTO deliveries (id, webhook, ticket_id, article_no, event, mailbox, key, gate, status, attempts, next_at, created_at, finished_at)
           SELECT id, webhook, ticket_id, article_no, event, mailbox, key, gate, status, 0, next_at, created_at, finished_at
           FROM json_to_recordset(${recordset(dels)}::text::json)
             AS x(id text, webhook text, ticket_id text, article_no integer, event text, mailbox text, key text, gate text, status text, next_at bigint, created_at timestamptz, finished_at timestamptz)
           ON CONFLICT (id) DO NOTHING RETURNING id`
      : none,
    // (after the deliveries: the caller reads their RETURNING by position)
    // Replaced, not compared: a cursor is opaque (Graph delta link, Gmail history id).
    plan.cursors.length
      ? tx`INSERT INTO sync_cursors (mailbox, folder, value)
           SELECT "mailbox", folder, value FROM json_to_recordset(${recordset(plan.cursors)}::text::json) AS x("mailbox" text, folder text, value text)
           ON CONFLICT (mailbox, folder) DO UPDATE SET value = excluded.value`
      : none,
    // A reply to a rejected ticket sets it back to held (the row is locked FOR UPDATE since the plan read it).
    reopened.length
      ? tx`UPDATE tickets t SET status = x."to" FROM json_to_recordset(${recordset(reopened)}::text::json) AS x(id text, "from" text, "to" text)
           WHERE t.id = x.id AND t.status = x."from"`
      : none,
  ];
}
