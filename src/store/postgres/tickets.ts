// Why this file exists: the PostgreSQL store's ticket port: cursor pages in creation order (the
// cursor is the embedded store's, list.ts, over the tickets' creation sequence), a ticket with its
// articles, a status change that settles the ticket's held deliveries in the same transaction, blobs.
import { fateForTicket } from '../../sinks/webhook/hold.js';
import { isStatus } from '../apply.js';
import { MAX_PAGE, decodeCursor, encodeCursor } from '../list.js';
import type { BlobStream, SetStatusResult, TicketPort } from '../port.js';
import type { Article, ListTicketsQuery, StoreStats, Ticket, TicketPage, TicketStatus, TicketSummary } from '../types.js';
import { StoreError } from '../types.js';
import type { Blobs } from './blobs.js';
import type { Sql } from './connect.js';
import { DELIVERY_COLUMNS, TICKET_COLUMNS, deliveryOf, summaryOf, type DeliveryRow, type TicketRow } from './rows.js';

export class PostgresTickets implements TicketPort {
  constructor(
    private readonly sql: Sql,
    private readonly blobs: Blobs,
  ) {}

  async list(q: ListTicketsQuery): Promise<TicketPage> {
    const sql = this.sql;
    const order = q.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') throw new StoreError('bad-query', `bad order ${String(order)}`);
    const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(Number(q.limit) || 0) || 1));
    let since: Date | null = null;
    if (q.since !== undefined) {
      const ms = Date.parse(q.since);
      if (Number.isNaN(ms)) throw new StoreError('bad-query', `bad since timestamp ${JSON.stringify(q.since)}`);
      since = new Date(ms);
    }
    const allowed = q.companies === '*' ? null : [...new Set(q.companies)];
    if (allowed && (allowed.length === 0 || (q.company !== undefined && !allowed.includes(q.company)))) return { items: [], next: null };
    const cursor = q.cursor ? decodeCursor(q.cursor, order) : null;
    const rows = await sql<(TicketRow & { seq: string })[]>`
      SELECT ${sql.unsafe(TICKET_COLUMNS)}, seq FROM tickets
      WHERE true
        ${allowed ? sql`AND company = ANY(${allowed}::text[])` : sql``}
        ${q.company !== undefined ? sql`AND company = ${q.company}` : sql``}
        ${q.contract !== undefined ? sql`AND contract = ${q.contract}` : sql``}
        ${q.status !== undefined ? sql`AND status = ${q.status}` : sql``}
        ${since ? sql`AND created_at >= ${since}` : sql``}
        ${cursor !== null ? (order === 'asc' ? sql`AND seq > ${cursor}` : sql`AND seq < ${cursor}`) : sql``}
      ORDER BY seq ${order === 'asc' ? sql`ASC` : sql`DESC`}
      LIMIT ${limit + 1}`;
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    return { items: page.map(summaryOf), next: more ? encodeCursor(Number(page.at(-1)!.seq), order) : null };
  }

  async get(id: string): Promise<Ticket | null> {
    const [[t], articles] = await Promise.all([
      this.sql<(TicketRow & { prefix: string; fields: Record<string, string> })[]>`SELECT ${this.sql.unsafe(TICKET_COLUMNS)}, prefix, fields FROM tickets WHERE id = ${id}`,
      this.sql<{ data: string }[]>`SELECT data FROM articles WHERE ticket_id = ${id} ORDER BY no`,
    ]);
    if (!t) return null;
    return { ...summaryOf(t), prefix: t.prefix, fields: { ...(t.fields ?? {}) }, articles: articles.map((a) => JSON.parse(a.data) as Article) };
  }

  async summary(id: string): Promise<TicketSummary | null> {
    const [t] = await this.sql<TicketRow[]>`SELECT ${this.sql.unsafe(TICKET_COLUMNS)} FROM tickets WHERE id = ${id}`;
    return t ? summaryOf(t) : null;
  }

  async setStatus(id: string, status: TicketStatus): Promise<SetStatusResult> {
    if (!isStatus(status)) throw new StoreError('bad-input', `bad status ${JSON.stringify(status)}`);
    return (await this.sql.begin(async (tx) => {
      const now = new Date();
      const [t] = await tx<{ status: TicketStatus }[]>`
        UPDATE tickets SET updated_at = CASE WHEN status = ${status} THEN updated_at ELSE ${now} END, status = ${status}
        WHERE id = ${id} RETURNING status`;
      if (!t) return { found: false, deliveries: [] };
      // The ticket's held deliveries follow its status: approval queues them as of now, rejection cancels.
      const fate = fateForTicket(t.status);
      if (fate === 'held') return { found: true, deliveries: [] };
      const rows =
        fate === 'pending'
          ? await tx<DeliveryRow[]>`UPDATE deliveries SET status = 'pending', gate = NULL, next_at = ${now.getTime()}, created_at = ${now}
              WHERE ticket_id = ${id} AND status = 'held' RETURNING ${tx.unsafe(DELIVERY_COLUMNS)}`
          : await tx<DeliveryRow[]>`UPDATE deliveries SET status = 'cancelled', finished_at = ${now}
              WHERE ticket_id = ${id} AND status = 'held' RETURNING ${tx.unsafe(DELIVERY_COLUMNS)}`;
      return { found: true, deliveries: rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(deliveryOf) };
    })) as SetStatusResult;
  }

  openBlob(hash: string): Promise<BlobStream | null> {
    return this.blobs.open(hash);
  }

  readBlob(hash: string): Promise<Buffer | null> {
    return this.blobs.read(hash);
  }

  async stats(): Promise<StoreStats> {
    const [r] = await this.sql<{ tickets: string; articles: string; pending: string }[]>`
      SELECT (SELECT count(*) FROM tickets) AS tickets, (SELECT count(*) FROM articles) AS articles, (SELECT count(*) FROM pending_actions) AS pending`;
    return { tickets: Number(r!.tickets), articles: Number(r!.articles), pendingActions: Number(r!.pending) };
  }
}
