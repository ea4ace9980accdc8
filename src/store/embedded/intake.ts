// Why this file exists: the embedded store's intake and sync ports over the ticket store (segments,
// meta, UIDLs, packs) and the webhook journal. The webhook deliveries of a commit live in a second
// journal, so the embedded store keeps the intent protocol inside: intent journaled before the ticket
// commit, deliveries after it, intents reconciled at open (webhook-queue.ts). To the caller it is one
// atomic commit. The embedded store has one owner: fences are accepted and not checked.
import type { WebhookQueue } from './webhook-queue.js';
import type { TicketStore } from '../ticket-store.js';
import type { ArticleRef, Fence, IntakeFacts, IntakeFactsQuery, IntakeItem, IntakePort, IntakeResult, SyncPort, TicketFact } from '../port.js';
import type { Article, Checkpoint, PendingAction, TicketStatus } from '../types.js';

/** A subject full of tags must not make one batch load many segments. */
const MAX_TICKET_FACTS = 64;

export function articleAddresses(articles: readonly Pick<Article, 'from' | 'to' | 'cc'>[]): string[] {
  const out = new Set<string>();
  for (const a of articles) for (const x of [a.from, ...a.to, ...a.cc]) if (x?.address) out.add(x.address.toLowerCase());
  return [...out];
}

export class EmbeddedIntake implements IntakePort, SyncPort {
  constructor(
    private readonly store: TicketStore,
    private readonly queue: WebhookQueue,
  ) {}

  async facts(q: IntakeFactsQuery): Promise<IntakeFacts> {
    const load = (id: string) => this.store.getTicket(id).catch(() => null);
    const keys = new Map<string, ArticleRef>();
    const whole = new Set(q.articlesOf ?? []);
    for (const k of q.keys) {
      const ref = this.store.findKey(k);
      if (!ref) continue;
      const out: ArticleRef = { ...ref };
      if (whole.has(k)) out.article = (await load(ref.ticketId))?.articles[ref.articleNo - 1] ?? null;
      keys.set(k, out);
    }
    const threadIds = new Map<string, string>();
    const threadStatuses = new Map<string, TicketStatus>();
    for (const { company, ids } of q.threadIds)
      for (const id of ids) {
        const hit = this.store.findByMessageIds(company, [id]);
        if (!hit) continue;
        threadIds.set(`${company}\0${id}`, hit);
        const status = this.store.findByTicketId(hit)?.status;
        if (status) threadStatuses.set(hit, status);
      }
    const tickets = new Map<string, TicketFact>();
    const wanted = [...new Set([...q.ticketIds, ...(q.threadTickets ? threadIds.values() : [])])].slice(0, MAX_TICKET_FACTS);
    for (const id of wanted) {
      const summary = this.store.findByTicketId(id);
      if (!summary) continue;
      const t = await load(id);
      tickets.set(id, { summary, participants: t ? articleAddresses(t.articles) : [], messageIds: t ? t.articles.flatMap((a) => (a.messageId ? [a.messageId] : [])) : [] });
    }
    return { keys, threadIds, threadStatuses, tickets };
  }

  putBlobs(items: (Uint8Array | string)[]): Promise<string[]> {
    return this.store.blobs.putMany(items);
  }

  async commit(items: IntakeItem[], _fence: Fence): Promise<IntakeResult[]> {
    if (items.length === 0) return [];
    const hooked = items.filter((i) => i.deliveries?.webhooks.length);
    // Intent durable before the commit: a crash in between cannot lose a delivery (reconciled at open).
    if (hooked.length)
      await this.queue.intend(hooked.map((i) => ({ key: i.article.dedupeKeys[0]!, mailbox: i.article.mailbox, webhooks: i.deliveries!.webhooks, gated: i.deliveries!.gated, ...(i.reopen && { announce: true as const }) })));
    const committed = await this.store.commit(items.map(({ deliveries: _d, ...item }) => item));
    const out: IntakeResult[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const r = committed[i]!;
      const want = item.deliveries;
      // A duplicate gets no new deliveries (its first copy has them); enqueue() is idempotent anyway.
      const deliveries = want?.webhooks.length
        ? await this.queue.enqueue({ key: item.article.dedupeKeys[0]!, mailbox: item.article.mailbox, webhooks: r.duplicate ? [] : want.webhooks, ticketId: r.ticketId, articleNo: r.articleNo, gate: want.gated ? r.actionId : null, announce: r.reopened === true })
        : [];
      out.push({ ...r, deliveries });
    }
    return out;
  }

  // ── sync ──
  async checkpoint(mailbox: string, folder: string): Promise<Checkpoint | null> {
    return this.store.getCheckpoint(mailbox, folder);
  }

  resetCheckpoint(mailbox: string, folder: string, uidValidity: number, _fence: Fence): Promise<void> {
    return this.store.resetCheckpoint(mailbox, folder, uidValidity);
  }

  async cursor(mailbox: string, folder: string): Promise<string | null> {
    return this.store.getCursor(mailbox, folder);
  }

  saveCursor(mailbox: string, folder: string, value: string, _fence: Fence): Promise<void> {
    return this.store.saveCursor(mailbox, folder, value);
  }

  resetCursor(mailbox: string, folder: string, _fence: Fence): Promise<void> {
    return this.store.resetCursor(mailbox, folder);
  }

  async knownKeys(keys: string[]): Promise<Set<string>> {
    return new Set(keys.filter((k) => this.store.hasKey(k)));
  }

  async uidls(mailbox: string): Promise<Set<string>> {
    return this.store.uidls(mailbox);
  }

  pruneUidls(mailbox: string, keep: Set<string>, _fence: Fence): Promise<number> {
    return this.store.pruneUidls(mailbox, keep);
  }

  async pendingActions(mailbox: string): Promise<PendingAction[]> {
    return this.store.pendingActions(mailbox);
  }

  completeActions(ids: string[], _fence: Fence): Promise<void> {
    return this.store.completeActions(ids);
  }
}
