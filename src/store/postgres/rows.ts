// Why this file exists: the mapping between PostgreSQL rows and the port's records (tickets,
// deliveries, outbox entries), and the text rules of the store: PostgreSQL text cannot hold U+0000,
// so keys and Message-IDs taken from mail have it replaced (the same way on write and on lookup).
import type { DeliveryRecord } from '../delivery-types.js';
import type { Address, TicketStatus, TicketSummary } from '../types.js';

/** U+0000 → U+FFFD: PostgreSQL text cannot store NUL; applied to keys/ids on write and lookup alike. */
export const pgText = (s: string): string => (s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s);

export const iso = (d: Date | string | null): string | null => (d === null ? null : d instanceof Date ? d.toISOString() : new Date(d).toISOString());
const isoNN = (d: Date | string): string => iso(d)!;

/** The SELECT list for a TicketSummary. */
export const TICKET_COLUMNS = 'id, company, contract, status, type, "group", priority, tags, head, created_at, updated_at, article_count, last_article_at';

export interface TicketRow {
  id: string;
  company: string;
  contract: string | null;
  status: TicketStatus;
  type: string | null;
  group: string | null;
  priority: string | null;
  tags: string[];
  head: string;
  created_at: Date;
  updated_at: Date;
  article_count: number;
  last_article_at: Date;
}

export function ticketHead(subject: string, from: Address | null): string {
  return JSON.stringify({ subject, from });
}

export function summaryOf(r: TicketRow): TicketSummary {
  const head = JSON.parse(r.head) as { subject: string; from: Address | null };
  return {
    id: r.id,
    company: r.company,
    contract: r.contract,
    status: r.status,
    type: r.type,
    group: r.group,
    priority: r.priority,
    tags: [...(r.tags ?? [])],
    subject: head.subject ?? '',
    from: head.from ?? null,
    createdAt: isoNN(r.created_at),
    updatedAt: isoNN(r.updated_at),
    articleCount: Number(r.article_count),
    lastArticleAt: isoNN(r.last_article_at),
  };
}

export const DELIVERY_COLUMNS =
  'id, seq, webhook, ticket_id, article_no, event, mailbox, key, gate, status, attempts, next_at, last_error, last_status, created_at, finished_at';

export interface DeliveryRow {
  id: string;
  seq: string;
  webhook: string;
  ticket_id: string;
  article_no: number;
  event: DeliveryRecord['event'];
  mailbox: string;
  key: string;
  gate: string | null;
  status: DeliveryRecord['status'];
  attempts: number;
  next_at: string;
  last_error: string | null;
  last_status: number | null;
  created_at: Date;
  finished_at: Date | null;
}

export function deliveryOf(r: DeliveryRow): DeliveryRecord {
  return {
    id: r.id,
    webhook: r.webhook,
    ticketId: r.ticket_id,
    articleNo: Number(r.article_no),
    event: r.event,
    mailbox: r.mailbox,
    key: r.key,
    gate: r.gate,
    status: r.status,
    attempts: Number(r.attempts),
    nextAt: Number(r.next_at),
    lastError: r.last_error,
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    createdAt: isoNN(r.created_at),
    finishedAt: iso(r.finished_at),
  };
}

/** Rows as the one JSON parameter of `json_to_recordset($1::text::json)` (multi-row writes in one statement). */
export const recordset = (rows: object[]): string => JSON.stringify(rows);

/**
 * A JSON text PostgreSQL's JSON parser rejects inside a document it de-escapes (json_to_recordset
 * does): `\u0000` (text cannot hold NUL) and lone surrogates, which JSON.stringify writes as
 * `\udXXX` (a pair it writes as the character itself). A false positive (an escaped backslash
 * before "u0000") only costs the slower encoding.
 */
const PG_UNSAFE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/**
 * Rows whose `data` is an object stored as JSON text, as the one parameter of
 * `json_to_recordset($1::text::json) AS x(..., data json, data_text text)` read back with
 * `coalesce(x.data_text, x.data::text)`: each object is encoded once and set into the recordset as
 * a JSON value, whose text PostgreSQL keeps as it is; an object whose text PostgreSQL would refuse to
 * de-escape goes as a JSON string in `data_text` instead (a string of JSON: every quote escaped
 * twice). Used for outbox entries; articles go by binary COPY (copy.ts).
 */
export function recordsetWithData(rows: readonly ({ data: unknown } & Record<string, unknown>)[]): string {
  const out: string[] = [];
  for (const { data, ...rest } of rows) {
    const json = JSON.stringify(data);
    const head = JSON.stringify(rest);
    const safe = !PG_UNSAFE_ESCAPE.test(json);
    out.push(`${head.slice(0, -1)}${head.length > 2 ? ',' : ''}${safe ? `"data":${json}` : `"data_text":${JSON.stringify(json)}`}}`);
  }
  return `[${out.join(',')}]`;
}
