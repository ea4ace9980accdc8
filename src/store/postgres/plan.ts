// Why this file exists: the pure half of the PostgreSQL intake commit, mirroring apply.ts (the
// embedded store): given a batch and what the database knows about it (its dedupe keys, its threading
// targets locked FOR UPDATE, its identical pending actions), decide item by item, in order, what is a
// duplicate (its unseen keys become aliases), what threads onto which ticket as which article, what
// creates a ticket, which pending actions are new, how checkpoints advance and which deliveries are
// made. Ticket ids, creation sequence numbers and action ids are filled in afterwards from counters
// (assignIds), so the whole batch is written with a constant number of statements.
import { normalizeMessageId } from '../indexes.js';
import { fateForTicket } from '../../sinks/webhook/hold.js';
import type { IntakeItem } from '../port.js';
import type { AfterFetch, Article, TicketStatus } from '../types.js';
import { pgText } from './rows.js';

/** Same identity as meta.ts: an identical pending action is reused, not recorded twice. */
export function actionKey(a: AfterFetch): string {
  return JSON.stringify([a.mailbox, a.kind, a.folder ?? null, a.uidValidity ?? null, a.uid ?? null, a.uidl ?? null, a.action, a.moveTo ?? null, ...(a.remoteId !== undefined ? [a.remoteId] : [])]);
}

export function addressesOf(a: Pick<Article, 'from' | 'to' | 'cc'>): string[] {
  const out = new Set<string>();
  for (const x of [a.from, ...a.to, ...a.cc]) if (x?.address) out.add(x.address.toLowerCase());
  return [...out];
}

/** A ticket the batch writes to: an existing one (id known) or a new one (id assigned later). */
export interface TicketRef {
  id: string;
  isNew: boolean;
  prefix: string;
  seq: number;
  company: string;
  status: TicketStatus;
  articleCount: number;
  participants: Set<string>;
  /** existing tickets: touched by this batch (an article appended) */
  touched: boolean;
  /** existing tickets: status changed by an item's reopen (from → to), written in the same transaction */
  reopened?: { from: TicketStatus; to: TicketStatus };
}

export interface KnownTarget {
  id: string;
  company: string;
  status: TicketStatus;
  articleCount: number;
  participants: string[];
}

export interface PlannedArticle {
  ticket: TicketRef;
  no: number;
  article: Article;
  keys: string[];
}

export interface PlannedAction {
  key: string;
  afterFetch: AfterFetch;
  ticket: TicketRef;
  articleNo: number;
  /** null until assignIds (new) */
  id: string | null;
  isNew: boolean;
}

export interface PlannedItem {
  ticket: TicketRef;
  articleNo: number;
  duplicate: boolean;
  created: boolean;
  /** this item's reopen changed its ticket's status: its deliveries announce the ticket */
  reopened: boolean;
  action: PlannedAction | null;
  deliveries: { webhooks: string[]; gated: boolean; status: ReturnType<typeof fateForTicket> } | null;
  mailbox: string;
  key: string;
}

export interface CommitPlan {
  items: PlannedItem[];
  newTickets: { ref: TicketRef; item: IntakeItem }[];
  articles: PlannedArticle[];
  /** keys of a duplicate the store had not seen: remembered as aliases of its article */
  aliases: { key: string; ticket: TicketRef; articleNo: number }[];
  messageIds: { company: string; messageId: string; ticket: TicketRef }[];
  newActions: PlannedAction[];
  checkpoints: { mailbox: string; folder: string; uidValidity: number; uid: number }[];
  uidls: { mailbox: string; uidl: string }[];
  /** API sync cursors: replaced, the last one of the batch per mailbox+folder wins */
  cursors: { mailbox: string; folder: string; value: string }[];
}

export interface PlanInput {
  items: IntakeItem[];
  /** sanitized key → its article */
  knownKeys: Map<string, { ticketId: string; articleNo: number }>;
  targets: Map<string, KnownTarget>;
  /** action key → id of the identical pending action */
  pendingActions: Map<string, string>;
  now: string;
}

export function planCommit(input: PlanInput): CommitPlan {
  const refs = new Map<string, TicketRef>();
  const existing = (id: string, t?: KnownTarget): TicketRef => {
    let r = refs.get(id);
    if (!r) {
      r = { id, isNew: false, prefix: '', seq: 0, company: t?.company ?? '', status: t?.status ?? 'open', articleCount: t?.articleCount ?? 0, participants: new Set(t?.participants ?? []), touched: false };
      refs.set(id, r);
    }
    return r;
  };
  const keys = new Map<string, { ticket: TicketRef; articleNo: number }>();
  for (const [k, v] of input.knownKeys) keys.set(k, { ticket: existing(v.ticketId, input.targets.get(v.ticketId)), articleNo: v.articleNo });
  const plan: CommitPlan = { items: [], newTickets: [], articles: [], aliases: [], messageIds: [], newActions: [], checkpoints: [], uidls: [], cursors: [] };
  const actions = new Map<string, PlannedAction>();
  const cursors = new Map<string, { mailbox: string; folder: string; value: string }>();
  const mids = new Set<string>();
  const cps = new Map<string, { mailbox: string; folder: string; uidValidity: number; uid: number }>();
  const uidls = new Set<string>();

  for (const it of input.items) {
    const itemKeys = [...new Set(it.article.dedupeKeys.map(pgText))];
    const hit = itemKeys.map((k) => keys.get(k)).find((x) => x !== undefined);
    let ticket: TicketRef;
    let articleNo: number;
    let created = false;
    let reopened = false;
    if (hit) {
      ticket = hit.ticket;
      articleNo = hit.articleNo;
      for (const k of itemKeys) {
        if (keys.has(k)) continue;
        keys.set(k, hit);
        plan.aliases.push({ key: k, ticket, articleNo });
      }
    } else {
      const target = it.threadTo !== undefined ? input.targets.get(it.threadTo) : undefined;
      // Never thread across tenants: a threadTo of another company creates a new ticket instead.
      if (target && target.company === it.ticket.company) {
        ticket = existing(target.id, target);
        ticket.articleCount++;
        ticket.touched = true;
        articleNo = ticket.articleCount;
        // As apply.ts: a reply to a rejected ticket sets it back to held with its article.
        if (it.reopen && ticket.status === it.reopen.from) {
          ticket.reopened = { from: ticket.reopened?.from ?? ticket.status, to: it.reopen.to };
          ticket.status = it.reopen.to;
          reopened = true;
        }
      } else {
        ticket = {
          id: '', isNew: true, prefix: it.ticket.prefix, seq: 0, company: it.ticket.company, status: it.ticket.status,
          articleCount: 1, participants: new Set(), touched: true,
        };
        plan.newTickets.push({ ref: ticket, item: it });
        articleNo = 1;
        created = true;
      }
      const article: Article = { ...it.article, dedupeKeys: [...it.article.dedupeKeys], no: articleNo, createdAt: input.now };
      for (const a of addressesOf(article)) ticket.participants.add(a);
      plan.articles.push({ ticket, no: articleNo, article, keys: itemKeys });
      for (const k of itemKeys) keys.set(k, { ticket, articleNo });
      const ids = article.messageId ? [article.messageId, ...article.inReplyTo, ...article.references] : [...article.inReplyTo, ...article.references];
      for (const id of ids) {
        const m = pgText(normalizeMessageId(id));
        if (m === '' || mids.has(`${ticket.company}\0${m}`)) continue;
        mids.add(`${ticket.company}\0${m}`);
        plan.messageIds.push({ company: ticket.company, messageId: m, ticket });
      }
    }
    let action: PlannedAction | null = null;
    const af = it.afterFetch;
    if (af && af.action !== 'keep') {
      const key = actionKey(af);
      action = actions.get(key) ?? null;
      if (!action) {
        const id = input.pendingActions.get(key) ?? null;
        action = { key, afterFetch: structuredClone(af), ticket, articleNo, id, isNew: id === null };
        actions.set(key, action);
        if (action.isNew) plan.newActions.push(action);
      }
    }
    const cp = it.checkpoint;
    if (cp) {
      const k = `${cp.mailbox}\0${cp.folder}`;
      const cur = cps.get(k);
      // Advance, never backwards; within a batch the first UIDVALIDITY of a folder wins (as in meta.ts).
      if (!cur) cps.set(k, { ...cp });
      else if (cur.uidValidity === cp.uidValidity && cp.uid > cur.uid) cur.uid = cp.uid;
    }
    if (it.pop3Uidl) {
      const k = `${it.pop3Uidl.mailbox}\0${pgText(it.pop3Uidl.uidl)}`;
      if (!uidls.has(k)) {
        uidls.add(k);
        plan.uidls.push({ mailbox: it.pop3Uidl.mailbox, uidl: pgText(it.pop3Uidl.uidl) });
      }
    }
    if (it.cursor) cursors.set(`${it.cursor.mailbox}\0${it.cursor.folder}`, { mailbox: it.cursor.mailbox, folder: it.cursor.folder, value: pgText(it.cursor.value) });
    const want = it.deliveries;
    plan.items.push({
      ticket, articleNo, duplicate: hit !== undefined, created, reopened, action,
      // A duplicate gets no new deliveries (its first copy has them).
      deliveries: want?.webhooks.length && !hit ? { webhooks: [...new Set(want.webhooks)], gated: want.gated, status: fateForTicket(ticket.status) } : null,
      mailbox: it.article.mailbox,
      key: it.article.dedupeKeys[0]!,
    });
  }
  plan.checkpoints = [...cps.values()];
  plan.cursors = [...cursors.values()];
  return plan;
}

/** Per prefix, how many new tickets (sorted by prefix: counter rows are locked in one order). */
export function prefixCounts(plan: CommitPlan): { prefix: string; last: number }[] {
  const n = new Map<string, number>();
  for (const { ref } of plan.newTickets) n.set(ref.prefix, (n.get(ref.prefix) ?? 0) + 1);
  return [...n].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([prefix, last]) => ({ prefix, last }));
}

/** Fill in ticket ids (`ACME-000123`), creation sequence numbers and new action ids. */
export function assignIds(plan: CommitPlan, counters: Map<string, number>, lastSeq: number, actionIds: number[]): void {
  const next = new Map<string, number>();
  for (const [prefix, last] of counters) {
    const count = plan.newTickets.filter((t) => t.ref.prefix === prefix).length;
    next.set(prefix, last - count + 1);
  }
  let seq = lastSeq - plan.newTickets.length + 1;
  for (const { ref } of plan.newTickets) {
    const n = next.get(ref.prefix)!;
    next.set(ref.prefix, n + 1);
    ref.id = `${ref.prefix}-${String(n).padStart(6, '0')}`;
    ref.seq = seq++;
  }
  plan.newActions.forEach((a, i) => {
    a.id = `pa-${actionIds[i]}`;
  });
}
