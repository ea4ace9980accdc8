// The embedded store's webhook deliveries: one journal of delivery states under <store>/webhooks/. An intent is
// journaled before the store commit and resolved into deliveries after it, so a crash between the
// two loses nothing (open() reconciles intents against the store's dedupe keys).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Journal } from '../journal.js';
import { fateForTicket } from '../../sinks/webhook/hold.js';
import { planTicketOrder, ticketKey } from '../../sinks/webhook/order.js';

import type { DeliveryRecord, DeliveryStatus } from '../delivery-types.js';

export type Delivery = DeliveryRecord;
export type { DeliveryStatus };

/** An intent's `announce`: its item may reopen a rejected ticket, whose first delivery then is ticket.created. */
type Intent = { mailbox: string; webhooks: string[]; gated: boolean; announce?: true };
type Row = { t: 'd'; d: Delivery } | ({ t: 'i'; key: string } & Intent) | { t: 'x'; key: string };

export function deliveryId(webhook: string, ticketId: string, articleNo: number): string {
  const h = createHash('sha256').update(`${webhook}\0${ticketId}\0${articleNo}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export interface StoreView {
  findKey(key: string): { ticketId: string; articleNo: number } | null;
  findByTicketId(id: string): { status: string } | null;
  pendingActions(mailbox: string): { id: string; ticketId: string; articleNo: number }[];
}

const isFinal = (s: DeliveryStatus) => s === 'delivered' || s === 'cancelled';

export class WebhookQueue {
  /** Non-final deliveries (pending, held, dead), in creation order. */
  private live = new Map<string, Delivery>();
  /** Ids of final deliveries: enough for enqueue()'s dedupe; their rows are not kept. */
  private finished = new Set<string>();
  /** The subset of `live` the dispatcher scans each tick: its cost follows the pending count. */
  private pendingById = new Map<string, Delivery>();
  /** webhook+ticket → dead letter id → article number (what blocks the ticket's later deliveries). */
  private deadByTicket = new Map<string, Map<string, number>>();
  /** ticket id → its held deliveries (all webhooks), released or cancelled together. */
  private heldByTicket = new Map<string, Set<string>>();
  private counts = new Map<string, { pending: number; held: number; dead: number }>();
  /** pending action id → ids of pending deliveries holding it */
  private gates = new Map<string, Set<string>>();
  private intents = new Map<string, Intent>();

  private constructor(
    private journal: Journal<Row>,
    private store: StoreView,
  ) {}

  static async open(storePath: string, store: StoreView): Promise<WebhookQueue> {
    const deliveries = new Map<string, Delivery>();
    const intents = new Map<string, Intent>();
    const journal = await Journal.open<Row>(path.join(storePath, 'webhooks', 'queue.jsonl'), (r) => {
      if (r.t === 'd') deliveries.set(r.d.id, r.d);
      else if (r.t === 'i') intents.set(r.key, { mailbox: r.mailbox, webhooks: r.webhooks, gated: r.gated, ...(r.announce && { announce: true as const }) });
      else intents.delete(r.key);
    });
    const q = new WebhookQueue(journal, store);
    for (const d of deliveries.values()) q.put(d);
    q.intents = intents;
    // Intents whose commit happened (the key is in the store) but whose deliveries were not journaled.
    for (const [key, intent] of [...intents]) {
      const ref = store.findKey(key);
      if (ref) {
        const gate = intent.gated ? (store.pendingActions(intent.mailbox).find((a) => a.ticketId === ref.ticketId && a.articleNo === ref.articleNo)?.id ?? null) : null;
        // (a reopening reply's commit result is lost with the crash: its intent says it asked to reopen)
        await q.enqueue({ key, mailbox: intent.mailbox, webhooks: intent.webhooks, ticketId: ref.ticketId, articleNo: ref.articleNo, gate, announce: intent.announce === true });
      } else {
        // Never committed: the message is still on the server and will be fetched again.
        intents.delete(key);
        await journal.append({ t: 'x', key });
      }
    }
    // A ticket approved or rejected just before a crash: its held deliveries follow its status.
    for (const ticketId of [...q.heldByTicket.keys()]) await q.settleHeld(ticketId);
    return q;
  }
  /** Before the store commit: the message at `key` will go to these webhooks. */
  intend(items: ({ key: string } & Intent)[]): Promise<void> {
    const rows: Row[] = [];
    for (const { key, ...intent } of items) {
      this.intents.set(key, intent);
      rows.push({ t: 'i', key, ...intent });
    }
    return rows.length ? this.journal.append(...rows) : Promise.resolve();
  }

  /**
   * After the store commit: the deliveries (idempotent: an existing id is kept). A held ticket's are
   * recorded as held and hold no server action: the message is committed in the store (raw kept),
   * as safe as a dead letter, and approval may take days; the mail server should not wait for it.
   * `announce`: the article reopened a rejected ticket no webhook has seen, so it goes as ticket.created.
   */
  async enqueue(x: { key: string; mailbox: string; webhooks: string[]; ticketId: string; articleNo: number; gate: string | null; announce?: boolean }): Promise<Delivery[]> {
    const now = Date.now();
    const status = fateForTicket(this.store.findByTicketId(x.ticketId)?.status);
    const created: Delivery[] = [];
    for (const webhook of x.webhooks) {
      const id = deliveryId(webhook, x.ticketId, x.articleNo);
      if (this.live.has(id) || this.finished.has(id)) continue;
      const d: Delivery = {
        id, webhook, ticketId: x.ticketId, articleNo: x.articleNo, event: x.articleNo === 1 || x.announce ? 'ticket.created' : 'article.created',
        mailbox: x.mailbox, key: x.key, gate: status === 'pending' ? x.gate : null, status, attempts: 0, nextAt: now, lastError: null, lastStatus: null,
        createdAt: new Date(now).toISOString(), finishedAt: status === 'cancelled' ? new Date(now).toISOString() : null,
      };
      this.put(d);
      created.push(d);
    }
    this.intents.delete(x.key);
    await this.journal.append(...created.map((d): Row => ({ t: 'd', d })), { t: 'x', key: x.key });
    return created;
  }

  /**
   * The held ticket was approved or rejected (its status in the store says which): approval queues
   * its deliveries as of now (ticket.created first, the payload shows the approved ticket), a
   * rejection cancels them. Nothing to do while it is still held.
   */
  async settleHeld(ticketId: string): Promise<Delivery[]> {
    const ids = this.heldByTicket.get(ticketId);
    const fate = fateForTicket(this.store.findByTicketId(ticketId)?.status);
    if (!ids || fate === 'held') return [];
    const now = new Date();
    const settled: Delivery[] = [];
    for (const id of [...ids]) {
      const d = this.live.get(id)!;
      const next: Delivery =
        fate === 'pending' ? { ...d, status: 'pending', gate: null, nextAt: now.getTime(), createdAt: now.toISOString() } : { ...d, status: 'cancelled', finishedAt: now.toISOString() };
      this.put(next);
      settled.push(next);
    }
    await this.journal.append(...settled.map((d): Row => ({ t: 'd', d })));
    return settled;
  }

  /** Record a new state durably. A final one leaves memory now: its line is queued ahead of any
   *  compaction snapshot taken later, and only its id is needed from here on. */
  async update(d: Delivery, patch: Partial<Delivery>): Promise<Delivery> {
    const next = { ...d, ...patch };
    this.put(next);
    await this.journal.append({ t: 'd', d: next });
    if (next.status !== 'pending') void this.journal.maybeCompact(() => this.liveRows(), this.live.size + this.intents.size).catch(() => undefined);
    return next;
  }

  /** Replace a delivery's state, keeping every index in step. */
  private put(d: Delivery): void {
    const prev = this.live.get(d.id);
    if (prev) this.unindex(prev);
    if (isFinal(d.status)) {
      this.live.delete(d.id);
      this.finished.add(d.id);
      return;
    }
    this.live.set(d.id, d);
    const c = this.counts.get(d.webhook) ?? { pending: 0, held: 0, dead: 0 };
    this.counts.set(d.webhook, c);
    if (d.status === 'pending') {
      c.pending++;
      this.pendingById.set(d.id, d);
      if (d.gate) (this.gates.get(d.gate) ?? this.gates.set(d.gate, new Set()).get(d.gate)!).add(d.id);
    } else if (d.status === 'held') {
      c.held++;
      (this.heldByTicket.get(d.ticketId) ?? this.heldByTicket.set(d.ticketId, new Set()).get(d.ticketId)!).add(d.id);
    } else {
      c.dead++;
      const key = ticketKey(d);
      (this.deadByTicket.get(key) ?? this.deadByTicket.set(key, new Map()).get(key)!).set(d.id, d.articleNo);
    }
  }

  private unindex(d: Delivery): void {
    const c = this.counts.get(d.webhook)!;
    const drop = <K, V>(m: Map<K, Set<V> | Map<V, unknown>>, k: K, v: V) => {
      const inner = m.get(k);
      inner?.delete(v);
      if (inner && inner.size === 0) m.delete(k);
    };
    if (d.status === 'pending') {
      c.pending--;
      this.pendingById.delete(d.id);
      if (d.gate) drop(this.gates, d.gate, d.id);
    } else if (d.status === 'held') {
      c.held--;
      drop(this.heldByTicket, d.ticketId, d.id);
    } else {
      c.dead--;
      drop(this.deadByTicket, ticketKey(d), d.id);
    }
  }

  private liveRows(): Row[] {
    const rows: Row[] = [];
    for (const d of this.live.values()) rows.push({ t: 'd', d });
    for (const [key, i] of this.intents) rows.push({ t: 'i', key, ...i });
    return rows;
  }

  /** A pending, held or dead delivery (final ones are not kept). */
  get(id: string): Delivery | undefined {
    return this.live.get(id);
  }

  /** Every pending, held and dead delivery, in creation order (read-only, for `mailroom store import`). */
  all(): Delivery[] {
    return [...this.live.values()];
  }

  /** Pending deliveries (the dispatcher keeps per-ticket order: see order.ts). */
  pending(): Delivery[] {
    return [...this.pendingById.values()];
  }

  dead(webhook?: string): Delivery[] {
    return [...this.live.values()].filter((d) => d.status === 'dead' && (!webhook || d.webhook === webhook));
  }

  /** The lowest article number dead-lettered for this webhook+ticket (it blocks the later ones). */
  oldestDead(key: string): number | undefined {
    const m = this.deadByTicket.get(key);
    return m ? Math.min(...m.values()) : undefined;
  }

  /** A server action still waits for a delivery of its message. */
  holds(actionId: string): boolean {
    return this.gates.has(actionId);
  }

  /** Per webhook: pending, held, dead. O(webhooks): the gauges read it after every delivery. */
  totals(): Map<string, { pending: number; held: number; dead: number }> {
    return this.counts;
  }

  /** totals() plus how many pending wait behind a dead letter. O(pending): for status. */
  depth(): Map<string, { pending: number; blocked: number; held: number; dead: number }> {
    const out = new Map<string, { pending: number; blocked: number; held: number; dead: number }>();
    for (const [hook, c] of this.counts) out.set(hook, { ...c, blocked: 0 });
    for (const d of planTicketOrder(this.pendingById.values(), (k) => this.oldestDead(k)).blocked) out.get(d.webhook)!.blocked++;
    return out;
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
