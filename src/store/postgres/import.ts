// Why this file exists: `mailroom store import` moves an embedded store (read through
// embedded/contents.ts) into PostgreSQL, kind by kind, in batches: each batch is one transaction of a
// few multi-row statements (json_to_recordset), and every insert is idempotent (ON CONFLICT DO
// NOTHING, or "is it there already?" first), so an interrupted import is simply run again and a
// second run adds nothing. Tickets keep their ids and article numbers (they get fresh creation
// sequence numbers in the same order), the ticket counters continue after the highest imported
// number, blobs are re-hashed on the way in (byte-identical or the import fails), pending action ids
// stay and the id sequence moves past them. The fingerprint key of suspension records moves with
// them (keys.ts): without it a replica could not compare a suspension's fingerprint and the mailbox
// would resume.
import type { EmbeddedContents } from '../embedded/contents.js';
import type { StoredTicket } from '../segments.js';
import { StoreError } from '../types.js';
import { blobs as pgBlobs } from './blobs.js';
import type { Sql, Tx } from './connect.js';
import { FINGERPRINT_KEY, adoptKey } from './keys.js';
import { columnsOf } from './outbox.js';
import { actionKey, addressesOf } from './plan.js';
import { pgText, recordset, ticketHead } from './rows.js';

export const IMPORT_KINDS = [
  'tickets', 'articles', 'blobs', 'dedupe keys', 'message ids', 'checkpoints', 'uidls', 'pending actions',
  'deliveries', 'outbox', 'suspensions', 'oauth states', 'counter hits',
] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

export interface ImportCount {
  moved: number;
  /** already in PostgreSQL (an earlier run, or the same row twice) */
  already: number;
}

export interface ImportReport {
  counts: Record<ImportKind, ImportCount>;
  /** moved: the store now uses the embedded key; same: it had it; different: it had another one */
  fingerprintKey: 'moved' | 'same' | 'different';
  /** ticket-id prefix → the counter's value after the import */
  ticketCounters: Record<string, number>;
  warnings: string[];
}

export interface ImportOptions {
  /** rows per statement for the small kinds (keys, message ids, UIDLs ...); default 2000 */
  batchRows?: number;
  /** bytes of blobs per transaction; default 32 MiB */
  blobBatchBytes?: number;
  /** called after each batch (for progress output) */
  onBatch?: (kind: ImportKind, counts: ImportCount) => void;
}

/** Rate counters do not record their window; a day covers the loop guards' (an hour). */
const COUNTER_HIT_TTL_MS = 86_400_000;

export async function importEmbedded(src: EmbeddedContents, sql: Sql, opts: ImportOptions = {}): Promise<ImportReport> {
  const rows = opts.batchRows ?? 2000;
  const counts = Object.fromEntries(IMPORT_KINDS.map((k) => [k, { moved: 0, already: 0 }])) as Record<ImportKind, ImportCount>;
  const add = (kind: ImportKind, total: number, moved: number) => {
    counts[kind].moved += moved;
    counts[kind].already += total - moved;
    opts.onBatch?.(kind, counts[kind]);
  };
  const warnings: string[] = [];

  // The key first: a suspension never sits in the store without the key its fingerprint needs.
  const embeddedKey = src.fingerprintKey();
  const k = await adoptKey(sql, FINGERPRINT_KEY, embeddedKey);
  const fingerprintKey = k.adopted ? 'moved' : k.key.equals(embeddedKey) ? 'same' : 'different';

  await importBlobs(src, sql, opts.blobBatchBytes ?? 32 * 1024 * 1024, (n, moved) => add('blobs', n, moved));
  for await (const segment of src.tickets()) {
    for (let i = 0; i < segment.length; i += 500) {
      const r = await importTickets(sql, segment.slice(i, i + 500));
      add('tickets', r.tickets, r.newTickets);
      add('articles', r.articles, r.newArticles);
    }
  }
  for (const part of chunks(src.dedupeKeys(), rows)) {
    const x = part.map((d) => ({ key: pgText(d.key), ticket_id: d.ticketId, article_no: d.articleNo }));
    const r = await sql`INSERT INTO dedupe_keys (key, ticket_id, article_no)
      SELECT key, ticket_id, article_no FROM json_to_recordset(${recordset(x)}::text::json) AS x(key text, ticket_id text, article_no integer)
      ON CONFLICT (key) DO NOTHING RETURNING 1`;
    add('dedupe keys', part.length, r.length);
  }
  for (const part of chunks(src.messageIds(), rows)) {
    const x = part.map((m) => ({ company: m.company, message_id: pgText(m.messageId), ticket_id: m.ticketId }));
    const r = await sql`INSERT INTO message_ids (company, message_id, ticket_id)
      SELECT company, message_id, ticket_id FROM json_to_recordset(${recordset(x)}::text::json) AS x(company text, message_id text, ticket_id text)
      ON CONFLICT (company, message_id) DO NOTHING RETURNING 1`;
    add('message ids', part.length, r.length);
  }
  const ticketCounters = await importCounters(src, sql);
  const cps = src.checkpoints();
  if (cps.length) {
    const r = await sql`INSERT INTO checkpoints (mailbox, folder, uid_validity, uid)
      SELECT "mailbox", folder, "uidValidity", uid FROM json_to_recordset(${recordset(cps)}::text::json) AS x("mailbox" text, folder text, "uidValidity" bigint, uid bigint)
      ON CONFLICT (mailbox, folder) DO NOTHING RETURNING 1`;
    add('checkpoints', cps.length, r.length);
  }
  for (const { mailbox, uidls } of src.uidls()) {
    for (const part of chunks(uidls, rows)) {
      const x = part.map((uidl) => ({ mailbox, uidl: pgText(uidl) }));
      const r = await sql`INSERT INTO uidls (mailbox, uidl) SELECT "mailbox", uidl FROM json_to_recordset(${recordset(x)}::text::json) AS x("mailbox" text, uidl text)
        ON CONFLICT DO NOTHING RETURNING 1`;
      add('uidls', part.length, r.length);
    }
  }
  await importPendingActions(src, sql, rows, (n, moved) => add('pending actions', n, moved));
  for (const part of chunks(src.deliveries(), rows)) {
    const x = part.map((d, ord) => ({
      ord, id: d.id, webhook: d.webhook, ticket_id: d.ticketId, article_no: d.articleNo, event: d.event, mailbox: d.mailbox, key: pgText(d.key), gate: d.gate,
      status: d.status, attempts: d.attempts, next_at: d.nextAt, last_error: d.lastError, last_status: d.lastStatus, created_at: d.createdAt, finished_at: d.finishedAt,
    }));
    // ORDER BY ord: the identity column (the queue's creation order) follows the embedded order.
    const r = await sql`INSERT INTO deliveries (id, webhook, ticket_id, article_no, event, mailbox, key, gate, status, attempts, next_at, last_error, last_status, created_at, finished_at)
      SELECT id, webhook, ticket_id, article_no, event, mailbox, key, gate, status, attempts, next_at, last_error, last_status, created_at, finished_at
      FROM json_to_recordset(${recordset(x)}::text::json) AS x(ord integer, id text, webhook text, ticket_id text, article_no integer, event text, mailbox text, key text, gate text,
        status text, attempts integer, next_at bigint, last_error text, last_status integer, created_at timestamptz, finished_at timestamptz)
      ORDER BY ord
      ON CONFLICT (id) DO NOTHING RETURNING 1`;
    add('deliveries', part.length, r.length);
  }
  for (const part of chunks(src.outbox(), 100)) {
    const r = await sql.begin((tx) =>
      Promise.all(
        part.map((e) => {
          const c = columnsOf(e);
          return tx`INSERT INTO outbox (id, company, idempotency_key, status, next_attempt_at, attempts, committed, entry, raw, finished_at)
            VALUES (${e.id}, ${e.company}, ${e.idempotencyKey}, ${c.status}, ${c.next_attempt_at}, ${c.attempts}, ${e.committed}, ${c.entry}, ${c.raw}, ${c.finished_at})
            ON CONFLICT DO NOTHING RETURNING 1`;
        }),
      ),
    );
    add('outbox', part.length, (r as unknown[][]).filter((x) => x.length === 1).length);
  }
  const suspensions = src.suspensions();
  if (suspensions.length) {
    const x = suspensions.map((s) => ({ mailbox: s.mailbox, record: JSON.stringify(s) }));
    const r = await sql`INSERT INTO suspensions (mailbox, record) SELECT "mailbox", record FROM json_to_recordset(${recordset(x)}::text::json) AS x("mailbox" text, record text)
      ON CONFLICT (mailbox) DO NOTHING RETURNING 1`;
    add('suspensions', suspensions.length, r.length);
    if (fingerprintKey === 'different') {
      warnings.push(
        `PostgreSQL already had another fingerprint key: the ${suspensions.length} imported suspension(s) cannot be compared with it, so their mailboxes resume at their next check (a suspension that still fails is recorded again)`,
      );
    }
  }
  const states = await src.oauthStates();
  if (states.length) {
    const x = states.map((s) => ({ mailbox: s.mailbox, state: JSON.stringify(s) }));
    const r = await sql`INSERT INTO oauth_state (mailbox, version, state) SELECT "mailbox", 1, state FROM json_to_recordset(${recordset(x)}::text::json) AS x("mailbox" text, state text)
      ON CONFLICT (mailbox) DO NOTHING RETURNING 1`;
    add('oauth states', states.length, r.length);
  }
  await importCounterHits(src, sql, rows, (n, moved) => add('counter hits', n, moved));
  return { counts, fingerprintKey, ticketCounters, warnings };
}

/** Items of an iterable in arrays of at most `n`. */
function* chunks<T>(items: Iterable<T>, n: number): Generator<T[]> {
  let part: T[] = [];
  for (const x of items) {
    part.push(x);
    if (part.length >= n) {
      yield part;
      part = [];
    }
  }
  if (part.length) yield part;
}

async function importBlobs(src: EmbeddedContents, sql: Sql, batchBytes: number, done: (n: number, moved: number) => void): Promise<void> {
  const b = pgBlobs(sql);
  const flush = async (hashes: string[]) => {
    const known = new Set((await sql<{ hash: string }[]>`SELECT hash FROM blobs WHERE hash = ANY(${hashes}::text[])`).map((r) => r.hash));
    let group: { hash: string; bytes: Buffer }[] = [];
    let size = 0;
    const put = async () => {
      if (!group.length) return;
      const got = await b.put(group.map((g) => g.bytes));
      group.forEach((g, i) => {
        if (got[i] !== g.hash) throw new StoreError('corrupt', `blob ${g.hash} in the embedded store reads as ${got[i]}: its pack is damaged; nothing of it was imported`);
      });
      group = [];
      size = 0;
    };
    for (const hash of hashes) {
      if (known.has(hash)) continue;
      const bytes = await src.readBlob(hash);
      if (size + bytes.length > batchBytes) await put();
      group.push({ hash, bytes });
      size += bytes.length;
    }
    await put();
    done(hashes.length, hashes.length - known.size);
  };
  let hashes: string[] = [];
  for await (const h of src.blobHashes()) {
    hashes.push(h);
    if (hashes.length >= 256) {
      await flush(hashes);
      hashes = [];
    }
  }
  if (hashes.length) await flush(hashes);
}

interface TicketBatchResult {
  tickets: number;
  newTickets: number;
  articles: number;
  newArticles: number;
}

/** One transaction: the batch's new tickets (fresh creation sequence numbers, in order) and every article. */
function importTickets(sql: Sql, batch: StoredTicket[]): Promise<TicketBatchResult> {
  return sql.begin(async (tx: Tx) => {
    const have = await tx<{ id: string; created_at: Date }[]>`SELECT id, created_at FROM tickets WHERE id = ANY(${batch.map((t) => t.id)}::text[])`;
    const existing = new Map(have.map((r) => [r.id, r.created_at.getTime()]));
    for (const t of batch) {
      const at = existing.get(t.id);
      if (at !== undefined && at !== Date.parse(t.createdAt)) {
        throw new StoreError(
          'failed',
          `ticket ${t.id} in PostgreSQL is another ticket (created ${new Date(at).toISOString()}, the embedded one ${t.createdAt}): import into an empty PostgreSQL store, or one only this embedded store was imported into`,
        );
      }
    }
    const fresh = batch.filter((t) => !existing.has(t.id));
    let seq = 0;
    if (fresh.length) {
      const [r] = await tx<{ last: string }[]>`UPDATE ticket_seq SET last = last + ${fresh.length} RETURNING last`;
      seq = Number(r!.last) - fresh.length;
    }
    const ticketRows = fresh.map((t) => ({
      id: t.id, seq: ++seq, prefix: t.prefix, company: t.company, contract: t.contract, status: t.status, type: t.type, group: t.group, priority: t.priority,
      tags: t.tags ?? [], fields: t.fields ?? {}, head: ticketHead(t.articles[0]?.subject ?? '', t.articles[0]?.from ?? null), participants: participantsOf(t),
      created_at: t.createdAt, updated_at: t.updatedAt, article_count: t.articles.length, last_article_at: t.articles.at(-1)?.createdAt ?? t.createdAt,
    }));
    // Store-internal `actions` stay behind: pending ones move as pending actions.
    const articleRows = batch.flatMap((t) => t.articles.map(({ actions: _internal, ...a }) => ({ ticket_id: t.id, no: a.no, at: a.createdAt, data: JSON.stringify(a) })));
    const [, inserted] = await Promise.all([
      ticketRows.length
        ? tx`INSERT INTO tickets (id, seq, prefix, company, contract, status, type, "group", priority, tags, fields, head, participants, created_at, updated_at, article_count, last_article_at)
             SELECT id, seq, prefix, company, contract, status, type, "group", priority, tags, fields, head, participants, created_at, updated_at, article_count, last_article_at
             FROM json_to_recordset(${recordset(ticketRows)}::text::json)
               AS x(id text, seq bigint, prefix text, company text, contract text, status text, type text, "group" text, priority text, tags jsonb, fields jsonb, head text,
                    participants text[], created_at timestamptz, updated_at timestamptz, article_count integer, last_article_at timestamptz)
             ON CONFLICT (id) DO NOTHING`
        : Promise.resolve([]),
      tx`INSERT INTO articles (ticket_id, no, created_at, data)
         SELECT ticket_id, no, at, data FROM json_to_recordset(${recordset(articleRows)}::text::json) AS x(ticket_id text, no integer, at timestamptz, data text)
         ON CONFLICT (ticket_id, no) DO NOTHING RETURNING ticket_id`,
    ]);
    // A ticket imported before that has gained articles in the embedded store since: its summary follows.
    const grown = new Set((inserted as unknown as { ticket_id: string }[]).map((r) => r.ticket_id).filter((id) => existing.has(id)));
    if (grown.size) {
      const x = batch.filter((t) => grown.has(t.id)).map((t) => ({ id: t.id, article_count: t.articles.length, participants: participantsOf(t), updated_at: t.updatedAt, last_article_at: t.articles.at(-1)!.createdAt }));
      await tx`UPDATE tickets t SET article_count = x.article_count, participants = x.participants, updated_at = x.updated_at, last_article_at = x.last_article_at
        FROM json_to_recordset(${recordset(x)}::text::json) AS x(id text, article_count integer, participants text[], updated_at timestamptz, last_article_at timestamptz)
        WHERE t.id = x.id`;
    }
    return { tickets: batch.length, newTickets: fresh.length, articles: articleRows.length, newArticles: (inserted as unknown[]).length };
  }) as Promise<TicketBatchResult>;
}

function participantsOf(t: StoredTicket): string[] {
  return [...new Set(t.articles.flatMap((a) => addressesOf(a)))];
}

/** Per prefix, the counter continues after the highest number handed out (never lowered). */
async function importCounters(src: EmbeddedContents, sql: Sql): Promise<Record<string, number>> {
  const { prefixes } = src.counters();
  const x = Object.entries(prefixes).map(([prefix, last]) => ({ prefix, last }));
  if (!x.length) return {};
  const r = await sql<{ prefix: string; last: string }[]>`
    INSERT INTO ticket_counters (prefix, last) SELECT prefix, last FROM json_to_recordset(${recordset(x)}::text::json) AS x(prefix text, last bigint)
    ON CONFLICT (prefix) DO UPDATE SET last = GREATEST(ticket_counters.last, excluded.last) RETURNING prefix, last`;
  return Object.fromEntries(r.map((row) => [row.prefix, Number(row.last)]));
}

async function importPendingActions(src: EmbeddedContents, sql: Sql, rows: number, done: (n: number, moved: number) => void): Promise<void> {
  const pending = src.pendingActions();
  for (const part of chunks(pending, rows)) {
    const x = part.map((p) => ({
      id: p.id, action_key: actionKey(p), mailbox: p.mailbox, kind: p.kind, folder: p.folder ?? null, uid_validity: p.uidValidity ?? null, uid: p.uid ?? null,
      uidl: p.uidl === undefined ? null : pgText(p.uidl), action: p.action, move_to: p.moveTo ?? null, ticket_id: p.ticketId, article_no: p.articleNo, at: p.createdAt,
    }));
    const r = await sql`INSERT INTO pending_actions (id, action_key, mailbox, kind, folder, uid_validity, uid, uidl, action, move_to, ticket_id, article_no, created_at)
      SELECT id, action_key, mailbox, kind, folder, uid_validity, uid, uidl, action, move_to, ticket_id, article_no, at
      FROM json_to_recordset(${recordset(x)}::text::json)
        AS x(id text, action_key text, mailbox text, kind text, folder text, uid_validity bigint, uid bigint, uidl text, action text, move_to text, ticket_id text, article_no integer, at timestamptz)
      ON CONFLICT DO NOTHING RETURNING 1`;
    done(part.length, r.length);
  }
  // New action ids (pa-<n>) must not reuse an imported one.
  const highest = Math.max(src.counters().lastActionId, ...pending.map((p) => Number(/^pa-(\d+)$/.exec(p.id)?.[1] ?? 0)));
  if (highest > 0) {
    await sql`SELECT setval('pending_action_ids', GREATEST(${highest}::bigint, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pending_action_ids)))`;
  }
}

/** Hits still inside a day; the k-th hit at the same (key, ms) is added only if fewer than k are there. */
async function importCounterHits(src: EmbeddedContents, sql: Sql, rows: number, done: (n: number, moved: number) => void): Promise<void> {
  const now = Date.now();
  const hits = src.counterHits().flatMap(({ key, at }) => {
    const seen = new Map<number, number>();
    return at.filter((t) => t + COUNTER_HIT_TTL_MS > now).map((t) => {
      const k = (seen.get(t) ?? 0) + 1;
      seen.set(t, k);
      return { key: pgText(key), at: t, k };
    });
  });
  for (const part of chunks(hits, rows)) {
    const r = await sql`INSERT INTO counter_hits (key, at, expires_at)
      SELECT key, at, at + ${COUNTER_HIT_TTL_MS} FROM json_to_recordset(${recordset(part)}::text::json) AS x(key text, at bigint, k integer)
      WHERE (SELECT count(*) FROM counter_hits c WHERE c.key = x.key AND c.at = x.at) < x.k
      RETURNING 1`;
    done(part.length, r.length);
  }
}
