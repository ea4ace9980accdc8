// Why this file exists: segments are loaded lazily, so everything a poller or the API must answer
// without I/O lives here, rebuilt from the segments at open: dedupe keys → article, message-ids →
// ticket (per company), ticket id → summary + segment, and creation-ordered lists (global and per
// company) for cursor pagination.
import type { StoredTicket } from './segments.js';
import type { Article, TicketSummary } from './types.js';

export interface ArticleRef {
  t: string; // ticket id
  a: number; // article no
}

export interface TicketEntry {
  summary: TicketSummary;
  seq: number;
  seg: number;
  createdMs: number;
}

/** Message-ids are matched without angle brackets/whitespace, case preserved. */
export function normalizeMessageId(id: string): string {
  const s = id.trim();
  return s.startsWith('<') && s.endsWith('>') ? s.slice(1, -1).trim() : s;
}

export function summaryOf(t: StoredTicket): TicketSummary {
  const first = t.articles[0];
  const last = t.articles[t.articles.length - 1];
  return {
    id: t.id,
    company: t.company,
    contract: t.contract,
    status: t.status,
    type: t.type,
    group: t.group,
    priority: t.priority,
    tags: t.tags,
    subject: first?.subject ?? '',
    from: first?.from ?? null,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    articleCount: t.articles.length,
    lastArticleAt: last?.createdAt ?? t.createdAt,
  };
}

export class Indexes {
  readonly keys = new Map<string, ArticleRef>();
  readonly mids = new Map<string, string>(); // `${company}\0${messageId}` → ticket id
  readonly byId = new Map<string, TicketEntry>();
  /** all tickets by ascending seq */
  readonly order: TicketEntry[] = [];
  readonly byCompany = new Map<string, TicketEntry[]>();
  articles = 0;

  addTicket(t: StoredTicket, seg: number): TicketEntry {
    const entry: TicketEntry = { summary: summaryOf(t), seq: t.seq, seg, createdMs: Date.parse(t.createdAt) };
    this.byId.set(t.id, entry);
    const last = this.order[this.order.length - 1];
    this.order.push(entry);
    let list = this.byCompany.get(t.company);
    if (!list) this.byCompany.set(t.company, (list = []));
    list.push(entry);
    if (last && last.seq > t.seq) {
      // only possible with hand-edited files; keep the invariant the cursor relies on
      this.order.sort((x, y) => x.seq - y.seq);
      list.sort((x, y) => x.seq - y.seq);
    }
    for (const a of t.articles) this.#indexArticle(t.id, t.company, a);
    return entry;
  }

  /** Index an article just appended to an existing ticket (summary fields updated by the caller). */
  addArticle(entry: TicketEntry, a: Article): void {
    this.#indexArticle(entry.summary.id, entry.summary.company, a);
  }

  addKey(key: string, ref: ArticleRef): void {
    if (!this.keys.has(key)) this.keys.set(key, ref);
  }

  findKey(keys: readonly string[]): ArticleRef | undefined {
    for (const k of keys) {
      const ref = this.keys.get(k);
      if (ref) return ref;
    }
    return undefined;
  }

  findByMessageIds(company: string, ids: readonly string[]): string | null {
    for (const id of ids) {
      const t = this.mids.get(`${company}\0${normalizeMessageId(id)}`);
      if (t !== undefined) return t;
    }
    return null;
  }

  #indexArticle(ticketId: string, company: string, a: Article): void {
    this.articles++;
    for (const k of a.dedupeKeys) this.addKey(k, { t: ticketId, a: a.no });
    const ids = a.messageId ? [a.messageId, ...a.inReplyTo, ...a.references] : [...a.inReplyTo, ...a.references];
    for (const id of ids) {
      const m = normalizeMessageId(id);
      if (m === '') continue;
      const k = `${company}\0${m}`;
      if (!this.mids.has(k)) this.mids.set(k, ticketId); // first (oldest) ticket wins
    }
  }
}
