// Why this file exists: the PostgreSQL store's webhook delivery queue, claimed across replicas.
// A claim is two columns (claim_owner, claim_until in epoch ms); claimDue picks, in one statement,
// the oldest pending delivery per webhook+ticket (per-ticket order), none behind a dead letter of its
// ticket, none of a ticket with a live claim, at most capacity[webhook] per webhook, and locks them
// FOR UPDATE SKIP LOCKED before claiming: two replicas claiming at once never get the same row, and a
// row whose claim changed meanwhile is re-checked (it was claimed: skipped). Settling checks the claim:
// an owner whose claim expired and was taken over gets StoreError('claimed'). A row picked with an
// expired claim still on it (settle and release clear it) is a takeover: req.onTakenOver hears of it.
import type { DeliveryRecord, DeliverySummary } from '../delivery-types.js';
import type { DeliveryClaimRequest, DeliveryPort } from '../port.js';
import { StoreError } from '../types.js';
import type { Sql } from './connect.js';
import { DELIVERY_COLUMNS, deliveryOf, recordset, type DeliveryRow } from './rows.js';

const bySeq = (a: DeliveryRow, b: DeliveryRow) => Number(a.seq) - Number(b.seq);

export class PostgresDeliveries implements DeliveryPort {
  constructor(private readonly sql: Sql) {}

  async claimDue(req: DeliveryClaimRequest): Promise<DeliveryRecord[]> {
    const caps = Object.entries(req.capacity).filter(([, n]) => n > 0).map(([webhook, n]) => ({ webhook, n: Math.floor(n) }));
    if (caps.length === 0) return [];
    const sql = this.sql;
    const rows = await sql<(DeliveryRow & { taken_over: boolean })[]>`
      WITH cap AS (
        SELECT webhook, n FROM json_to_recordset(${recordset(caps)}::text::json) AS x(webhook text, n integer)
      ), heads AS (
        SELECT DISTINCT ON (d.webhook, d.ticket_id) d.id, d.seq, d.webhook, d.ticket_id, d.article_no, d.next_at
        FROM deliveries d JOIN cap USING (webhook)
        WHERE d.status = 'pending'
        ORDER BY d.webhook, d.ticket_id, d.article_no
      ), ready AS (
        SELECT h.id, h.webhook FROM heads h
        WHERE h.next_at <= ${req.now}
          AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.webhook = h.webhook AND x.ticket_id = h.ticket_id AND x.status = 'dead' AND x.article_no < h.article_no)
          AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.webhook = h.webhook AND x.ticket_id = h.ticket_id AND x.status = 'pending' AND x.claim_until > ${req.now})
      ), picked AS (
        -- per webhook, the oldest ready ones up to its capacity, skipping rows another claimer holds
        -- locked right now: two claimers at once split the ready rows instead of one getting none
        SELECT p.id, p.prev_owner FROM cap CROSS JOIN LATERAL (
          SELECT d.id, d.claim_owner AS prev_owner FROM deliveries d
          WHERE d.id IN (SELECT r.id FROM ready r WHERE r.webhook = cap.webhook)
            AND d.status = 'pending' AND (d.claim_until IS NULL OR d.claim_until <= ${req.now})
          ORDER BY d.seq LIMIT cap.n
          FOR UPDATE SKIP LOCKED
        ) p
      )
      UPDATE deliveries d SET claim_owner = ${req.owner}, claim_until = ${req.now + req.ttlMs}
      FROM picked WHERE d.id = picked.id
      RETURNING ${sql.unsafe(DELIVERY_COLUMNS.split(', ').map((c) => `d.${c}`).join(', '))}, picked.prev_owner IS NOT NULL AS taken_over`;
    // a claim still set (settling and releasing clear it) but expired: its claimer died or stalled
    const takenOver = rows.filter((r) => r.taken_over).map((r) => r.id);
    if (takenOver.length) req.onTakenOver?.(takenOver);
    return rows.sort(bySeq).map(deliveryOf);
  }

  async nextDueAt(): Promise<number | null> {
    const [r] = await this.sql<{ at: string | null }[]>`
      WITH heads AS (
        SELECT DISTINCT ON (webhook, ticket_id) webhook, ticket_id, article_no, next_at FROM deliveries
        WHERE status = 'pending' ORDER BY webhook, ticket_id, article_no
      )
      SELECT min(h.next_at) AS at FROM heads h
      WHERE NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.webhook = h.webhook AND x.ticket_id = h.ticket_id AND x.status = 'dead' AND x.article_no < h.article_no)`;
    return r?.at == null ? null : Number(r.at);
  }

  /** Record an outcome and drop the claim; refused when another owner holds a live claim on it. */
  async #settle(id: string, owner: string, set: ReturnType<Sql['unsafe']> | ReturnType<Sql>): Promise<void> {
    const now = Date.now();
    const [r] = await this.sql<{ settled: boolean }[]>`
      WITH cur AS (SELECT id, claim_owner, claim_until FROM deliveries WHERE id = ${id}),
      upd AS (
        UPDATE deliveries d SET ${set}, attempts = d.attempts + 1, claim_owner = NULL, claim_until = NULL
        FROM cur WHERE d.id = cur.id AND NOT (cur.claim_owner IS DISTINCT FROM ${owner} AND cur.claim_owner IS NOT NULL AND cur.claim_until > ${now})
        RETURNING 1
      )
      SELECT EXISTS (SELECT 1 FROM cur) AS found, EXISTS (SELECT 1 FROM upd) AS settled`;
    if (r && !r.settled && (r as unknown as { found: boolean }).found) throw new StoreError('claimed', `delivery ${id} is claimed by another owner`);
  }

  complete(id: string, owner: string, o: { status: number; at: number }): Promise<void> {
    return this.#settle(id, owner, this.sql`status = 'delivered', last_status = ${o.status}, last_error = NULL, finished_at = ${new Date(o.at)}`);
  }

  retryAt(id: string, owner: string, o: { status: number | null; error: string; nextAt: number }): Promise<void> {
    return this.#settle(id, owner, this.sql`last_status = ${o.status}, last_error = ${o.error}, next_at = ${o.nextAt}`);
  }

  deadLetter(id: string, owner: string, o: { status: number | null; error: string; at: number }): Promise<void> {
    return this.#settle(id, owner, this.sql`status = 'dead', last_status = ${o.status}, last_error = ${o.error}, finished_at = ${new Date(o.at)}`);
  }

  async release(ids: string[], owner: string): Promise<void> {
    if (ids.length === 0) return;
    await this.sql`UPDATE deliveries SET claim_owner = NULL, claim_until = NULL WHERE id = ANY(${ids}::text[]) AND claim_owner = ${owner}`;
  }

  async replay(webhook: string, deliveryId?: string): Promise<number> {
    const now = Date.now();
    const rows = await this.sql`
      UPDATE deliveries SET status = 'pending', attempts = 0, next_at = ${now}, finished_at = NULL, claim_owner = NULL, claim_until = NULL
      WHERE status = 'dead' AND webhook = ${webhook} ${deliveryId !== undefined ? this.sql`AND id = ${deliveryId}` : this.sql``}
      RETURNING 1`;
    return rows.length;
  }

  async dead(webhook?: string): Promise<DeliveryRecord[]> {
    const rows = await this.sql<DeliveryRow[]>`
      SELECT ${this.sql.unsafe(DELIVERY_COLUMNS)} FROM deliveries WHERE status = 'dead' ${webhook !== undefined ? this.sql`AND webhook = ${webhook}` : this.sql``} ORDER BY seq`;
    return rows.map(deliveryOf);
  }

  async get(id: string): Promise<DeliveryRecord | null> {
    const [r] = await this.sql<DeliveryRow[]>`SELECT ${this.sql.unsafe(DELIVERY_COLUMNS)} FROM deliveries WHERE id = ${id}`;
    return r ? deliveryOf(r) : null;
  }

  async gating(actionIds: string[]): Promise<Set<string>> {
    if (actionIds.length === 0) return new Set();
    const rows = await this.sql<{ gate: string }[]>`SELECT DISTINCT gate FROM deliveries WHERE status = 'pending' AND gate = ANY(${actionIds}::text[])`;
    return new Set(rows.map((r) => r.gate));
  }

  async summary(): Promise<Map<string, DeliverySummary>> {
    const rows = await this.sql<{ webhook: string; pending: string; blocked: string; held: string; dead: string }[]>`
      SELECT d.webhook,
        count(*) FILTER (WHERE d.status = 'pending') AS pending,
        count(*) FILTER (WHERE d.status = 'pending' AND EXISTS (
          SELECT 1 FROM deliveries x WHERE x.webhook = d.webhook AND x.ticket_id = d.ticket_id AND x.status = 'dead' AND x.article_no < d.article_no)) AS blocked,
        count(*) FILTER (WHERE d.status = 'held') AS held,
        count(*) FILTER (WHERE d.status = 'dead') AS dead
      FROM deliveries d WHERE d.status IN ('pending', 'held', 'dead') GROUP BY d.webhook ORDER BY d.webhook`;
    return new Map(rows.map((r) => [r.webhook, { pending: Number(r.pending), blocked: Number(r.blocked), held: Number(r.held), dead: Number(r.dead) }]));
  }
}
