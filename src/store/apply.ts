// Why this file exists: the in-memory half of commit(): validate a batch, then apply its items in order
// (dedupe, thread or create, record pending action / checkpoint / UIDL) synchronously, so a flush
// snapshot always sees whole calls. Durability is the caller's job (group-commit.ts).
import type { Indexes, TicketEntry } from './indexes.js';
import type { MetaState } from './meta.js';
import type { LoadedSegment, Segments, StoredTicket } from './segments.js';
import type { Article, CommitItem, CommitResult, TicketStatus } from './types.js';
import { StoreError } from './types.js';
import type { UidlSets } from './uidls.js';

export interface ApplyContext {
  ix: Indexes;
  meta: MetaState;
  segments: Segments;
  uidls: UidlSets;
}

const STATUSES: readonly TicketStatus[] = ['open', 'held', 'dropped', 'rejected'];
const ACTIONS = ['keep', 'seen', 'move', 'delete'];
const KINDS = ['imap', 'pop3', 'graph', 'gmail'];
export const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

export function isStatus(s: unknown): s is TicketStatus {
  return typeof s === 'string' && (STATUSES as readonly string[]).includes(s);
}

const isStr = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
const isUint = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** Reject the whole call before anything is applied (a call is applied entirely or not at all). */
export function validateItems(items: unknown): asserts items is CommitItem[] {
  if (!Array.isArray(items)) throw new StoreError('bad-input', 'commit(items): items must be an array');
  items.forEach((it: CommitItem, i) => {
    const bad = (why: string): never => {
      throw new StoreError('bad-input', `commit item ${i}: ${why}`);
    };
    if (!it || typeof it !== 'object') bad('not an object');
    const a = it.article;
    if (!a || !Array.isArray(a.dedupeKeys) || a.dedupeKeys.length === 0 || !a.dedupeKeys.every(isStr)) {
      bad('article.dedupeKeys must be a non-empty array of strings (no key ⇒ no exactly-once)');
    }
    if (!Array.isArray(a.inReplyTo) || !Array.isArray(a.references)) bad('article.inReplyTo/references must be arrays');
    const t = it.ticket;
    if (!t || !isStr(t.company)) bad('ticket.company is required');
    if (!PREFIX_RE.test(t.prefix ?? '')) bad(`ticket.prefix ${JSON.stringify(t.prefix)} must match ${PREFIX_RE}`);
    if (!isStatus(t.status)) bad(`ticket.status ${JSON.stringify(t.status)} invalid`);
    if (it.threadTo !== undefined && typeof it.threadTo !== 'string') bad('threadTo must be a ticket id');
    if (it.reopen !== undefined && (it.threadTo === undefined || !isStatus(it.reopen?.from) || !isStatus(it.reopen?.to))) bad('reopen needs threadTo and statuses from and to');
    const af = it.afterFetch;
    if (af && (!isStr(af.mailbox) || !ACTIONS.includes(af.action) || !KINDS.includes(af.kind))) {
      bad('afterFetch needs mailbox, kind imap|pop3|graph|gmail and action keep|seen|move|delete');
    }
    if (af && (af.kind === 'graph' || af.kind === 'gmail') && !isStr(af.remoteId)) bad(`afterFetch of kind ${af.kind} needs remoteId`);
    if (af?.action === 'move' && !isStr(af.moveTo)) bad('afterFetch.action move needs moveTo');
    const cp = it.checkpoint;
    if (cp && (!isStr(cp.mailbox) || typeof cp.folder !== 'string' || !isUint(cp.uidValidity) || !isUint(cp.uid))) {
      bad('checkpoint needs mailbox, folder, integer uidValidity and uid');
    }
    const pu = it.pop3Uidl;
    if (pu && (!isStr(pu.mailbox) || !isStr(pu.uidl))) bad('pop3Uidl needs mailbox and uidl');
    const cu = it.cursor;
    if (cu && (!isStr(cu.mailbox) || typeof cu.folder !== 'string' || !isStr(cu.value))) bad('cursor needs mailbox, folder and a non-empty value');
  });
}

/** Segments that must be in memory before applyItems (threading targets, tickets of known keys). */
export function segmentsNeeded(ix: Indexes, items: CommitItem[]): Set<number> {
  const need = new Set<number>();
  for (const it of items) {
    const target = it.threadTo !== undefined ? ix.byId.get(it.threadTo) : undefined;
    if (target) need.add(target.seg);
    const ref = ix.findKey(it.article.dedupeKeys);
    const owner = ref ? ix.byId.get(ref.t) : undefined;
    if (owner) need.add(owner.seg);
  }
  return need;
}

function loaded(ctx: ApplyContext, e: TicketEntry): { seg: LoadedSegment; t: StoredTicket } {
  const seg = ctx.segments.get(e.seg);
  const t = seg?.byId.get(e.summary.id);
  if (!seg || !t) throw new Error(`internal: ticket ${e.summary.id} (segment ${e.seg}) not loaded`);
  return { seg, t };
}

function newTicketId(ctx: ApplyContext, prefix: string): string {
  for (;;) {
    const id = `${prefix}-${String(ctx.meta.nextTicketNumber(prefix)).padStart(6, '0')}`;
    if (!ctx.ix.byId.has(id)) return id;
  }
}

export function applyItems(ctx: ApplyContext, items: CommitItem[], now: string): CommitResult[] {
  const { ix, meta, segments, uidls } = ctx;
  const results: CommitResult[] = [];
  for (const it of items) {
    // The store takes the article as given (see TicketStore.commit): a deep copy of every article
    // (text, html, headers) was a fifth of the main thread's garbage during ingest.
    const input = { ...it.article, dedupeKeys: [...it.article.dedupeKeys] };
    const ref = ix.findKey(input.dedupeKeys);
    let ticketId: string;
    let articleNo: number;
    let created = false;
    let reopened = false;
    let stored: { art: Article; seg: number } | null = null;
    if (ref) {
      // Duplicate: nothing is created, but keys we had not seen (same mail via another mailbox, say)
      // are remembered as aliases of the existing article, so hasKey() knows them from now on.
      ticketId = ref.t;
      articleNo = ref.a;
      const fresh = [...new Set(input.dedupeKeys.filter((k) => !ix.keys.has(k)))];
      const owner = ix.byId.get(ref.t);
      const art = owner ? loaded(ctx, owner).t.articles[ref.a - 1] : undefined;
      if (owner && art) {
        stored = { art, seg: owner.seg };
        if (fresh.length > 0) {
          art.dedupeKeys.push(...fresh);
          for (const k of fresh) ix.addKey(k, ref);
          segments.markDirty(owner.seg, ref.t);
        }
      }
    } else {
      const target = it.threadTo !== undefined ? ix.byId.get(it.threadTo) : undefined;
      // Never thread across tenants: a threadTo of another company creates a new ticket instead.
      if (target && target.summary.company === it.ticket.company) {
        const { t } = loaded(ctx, target);
        const art: Article = { ...input, no: t.articles.length + 1, createdAt: now };
        t.articles.push(art);
        t.updatedAt = now;
        const s = target.summary;
        s.articleCount = t.articles.length;
        s.lastArticleAt = now;
        s.updatedAt = now;
        // In the same write as the article: a reply to a rejected ticket sets it back to held.
        if (it.reopen && t.status === it.reopen.from) {
          t.status = it.reopen.to;
          s.status = it.reopen.to;
          reopened = true;
        }
        ix.addArticle(target, art);
        segments.markDirty(target.seg, t.id);
        stored = { art, seg: target.seg };
        ticketId = t.id;
        articleNo = art.no;
      } else {
        const ti = it.ticket;
        const t: StoredTicket = {
          id: newTicketId(ctx, ti.prefix),
          seq: meta.nextSeq(),
          company: ti.company,
          contract: ti.contract ?? null,
          status: ti.status,
          type: ti.type ?? null,
          group: ti.group ?? null,
          priority: ti.priority ?? null,
          tags: [...(ti.tags ?? [])],
          fields: { ...(ti.fields ?? {}) },
          prefix: ti.prefix,
          createdAt: now,
          updatedAt: now,
          articles: [{ ...input, no: 1, createdAt: now }],
        };
        const segNo = segments.addTicket(t);
        ix.addTicket(t, segNo);
        stored = { art: t.articles[0]!, seg: segNo };
        ticketId = t.id;
        articleNo = 1;
        created = true;
      }
    }
    const lastAction = meta.data.lastActionId;
    const actionId = it.afterFetch ? meta.addPending(structuredClone(it.afterFetch), ticketId, articleNo, now) : null;
    // A new pending action is written into the article's segment too, which is written before
    // meta.json: if a crash lands between the two, openTicketStore restores it from there.
    if (actionId && meta.data.lastActionId !== lastAction && stored) {
      (stored.art.actions ??= []).push({ ...structuredClone(it.afterFetch!), id: actionId });
      segments.markDirty(stored.seg, ticketId);
    }
    if (it.checkpoint) meta.advanceCheckpoint(it.checkpoint);
    if (it.pop3Uidl) uidls.add(it.pop3Uidl.mailbox, it.pop3Uidl.uidl);
    if (it.cursor) meta.setCursor(it.cursor.mailbox, it.cursor.folder, it.cursor.value);
    results.push({ ticketId, articleNo, duplicate: ref !== undefined, created, actionId, ...(reopened && { reopened: true as const }) });
  }
  return results;
}
