// Why this file exists: API pagination over the in-memory creation-ordered ticket lists. The cursor is
// the creation sequence number of the last item returned (opaque base64url to clients), so pages stay
// stable while new tickets arrive: no item twice, none missing.
import type { Indexes, TicketEntry } from './indexes.js';
import type { ListTicketsQuery, TicketPage, TicketSummary } from './types.js';
import { StoreError } from './types.js';

interface CursorBody {
  v: 1;
  s: number; // seq of the last item returned
  o: 'a' | 'd';
}

export function encodeCursor(seq: number, order: 'asc' | 'desc'): string {
  const body: CursorBody = { v: 1, s: seq, o: order === 'asc' ? 'a' : 'd' };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, order: 'asc' | 'desc'): number {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new StoreError('bad-cursor', 'invalid cursor');
  }
  const b = body as Partial<CursorBody> | null;
  if (!b || b.v !== 1 || typeof b.s !== 'number' || !Number.isInteger(b.s) || b.s < 0) {
    throw new StoreError('bad-cursor', 'invalid cursor');
  }
  if (b.o !== (order === 'asc' ? 'a' : 'd')) throw new StoreError('bad-cursor', 'cursor belongs to a different sort order');
  return b.s;
}

/** First index in `list` (ascending seq) with seq > s. */
function upperBound(list: TicketEntry[], s: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as TicketEntry).seq <= s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export const MAX_PAGE = 1000;

export function copySummary(s: TicketSummary): TicketSummary {
  return { ...s, tags: [...s.tags], from: s.from ? { ...s.from } : null };
}

/**
 * @param visibleSeq tickets with a larger seq are not durable yet and are not shown (their id could be
 *   handed out again after a crash).
 */
export function listTickets(ix: Indexes, visibleSeq: number, q: ListTicketsQuery): TicketPage {
  const order = q.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw new StoreError('bad-query', `bad order ${String(order)}`);
  const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(Number(q.limit) || 0) || 1));
  let sinceMs = -Infinity;
  if (q.since !== undefined) {
    sinceMs = Date.parse(q.since);
    if (Number.isNaN(sinceMs)) throw new StoreError('bad-query', `bad since timestamp ${JSON.stringify(q.since)}`);
  }
  const allowed = q.companies === '*' ? null : new Set(q.companies);
  if (q.company !== undefined && allowed && !allowed.has(q.company)) return { items: [], next: null };

  let list: TicketEntry[];
  if (q.company !== undefined) list = ix.byCompany.get(q.company) ?? [];
  else if (allowed && allowed.size === 1) list = ix.byCompany.get([...allowed][0] as string) ?? [];
  else if (allowed && allowed.size === 0) list = [];
  else list = ix.order;

  const match = (e: TicketEntry): boolean =>
    e.seq <= visibleSeq &&
    (allowed === null || allowed.has(e.summary.company)) &&
    (q.contract === undefined || e.summary.contract === q.contract) &&
    (q.status === undefined || e.summary.status === q.status) &&
    e.createdMs >= sinceMs;

  const items: TicketSummary[] = [];
  let lastSeq = -1;
  let more = false;
  const cursorSeq = q.cursor ? decodeCursor(q.cursor, order) : null;
  if (order === 'asc') {
    for (let i = cursorSeq === null ? 0 : upperBound(list, cursorSeq); i < list.length; i++) {
      const e = list[i] as TicketEntry;
      if (e.seq > visibleSeq) break;
      if (!match(e)) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(copySummary(e.summary));
      lastSeq = e.seq;
    }
  } else {
    const start = cursorSeq === null ? list.length - 1 : upperBound(list, cursorSeq - 1) - 1;
    for (let i = start; i >= 0; i--) {
      const e = list[i] as TicketEntry;
      if (!match(e)) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(copySummary(e.summary));
      lastSeq = e.seq;
    }
  }
  return { items, next: more ? encodeCursor(lastSeq, order) : null };
}
