// The durable webhook queue: one journal of delivery states under <store>/webhooks/. An intent is
// journaled before the store commit and resolved into deliveries after it, so a crash between the
// two loses nothing (open() reconciles intents against the store's dedupe keys).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Journal } from '../../store/journal.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface Delivery {
  /** Stable across retries and restarts: receivers dedupe on it. */
  id: string;
  webhook: string;
  ticketId: string;
  articleNo: number;
  event: 'ticket.created' | 'article.created';
  mailbox: string;
  /** Dedupe key of the message (links the delivery to its intent). */
  key: string;
  /** Pending server action (move/delete) that waits for this delivery. */
  gate: string | null;
  status: DeliveryStatus;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: string;
  finishedAt: string | null;
}

type Row = { t: 'd'; d: Delivery } | { t: 'i'; key: string; mailbox: string; webhooks: string[]; gated: boolean } | { t: 'x'; key: string };

export function deliveryId(webhook: string, ticketId: string, articleNo: number): string {
  const h = createHash('sha256').update(`${webhook}\0${ticketId}\0${articleNo}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export interface StoreView {
  findKey(key: string): { ticketId: string; articleNo: number } | null;
  pendingActions(mailbox: string): { id: string; ticketId: string; articleNo: number }[];
}

export class WebhookQueue {
  private deliveries = new Map<string, Delivery>();
  /** pending action id → ids of pending deliveries holding it */
  private gates = new Map<string, Set<string>>();
  private intents = new Map<string, { mailbox: string; webhooks: string[]; gated: boolean }>();

  private constructor(private journal: Journal<Row>) {}

  static async open(storePath: string, store: StoreView): Promise<WebhookQueue> {
    const deliveries = new Map<string, Delivery>();
    const intents = new Map<string, { mailbox: string; webhooks: string[]; gated: boolean }>();
    const journal = await Journal.open<Row>(path.join(storePath, 'webhooks', 'queue.jsonl'), (r) => {
      if (r.t === 'd') deliveries.set(r.d.id, r.d);
      else if (r.t === 'i') intents.set(r.key, { mailbox: r.mailbox, webhooks: r.webhooks, gated: r.gated });
      else intents.delete(r.key);
    });
    const q = new WebhookQueue(journal);
    for (const d of deliveries.values()) q.put(d);
    q.intents = intents;
    // Intents whose commit happened (the key is in the store) but whose deliveries were not journaled.
    for (const [key, intent] of [...intents]) {
      const ref = store.findKey(key);
      if (ref) {
        const gate = intent.gated ? (store.pendingActions(intent.mailbox).find((a) => a.ticketId === ref.ticketId && a.articleNo === ref.articleNo)?.id ?? null) : null;
        await q.enqueue({ key, mailbox: intent.mailbox, webhooks: intent.webhooks, ticketId: ref.ticketId, articleNo: ref.articleNo, gate });
      } else {
        // Never committed: the message is still on the server and will be fetched again.
        intents.delete(key);
        await journal.append({ t: 'x', key });
      }
    }
    return q;
  }

  /** Before the store commit: the message at `key` will go to these webhooks. */
  intend(items: { key: string; mailbox: string; webhooks: string[]; gated: boolean }[]): Promise<void> {
    const rows: Row[] = [];
    for (const i of items) {
      this.intents.set(i.key, { mailbox: i.mailbox, webhooks: i.webhooks, gated: i.gated });
      rows.push({ t: 'i', ...i });
    }
    return rows.length ? this.journal.append(...rows) : Promise.resolve();
  }

  /** After the store commit: the deliveries (idempotent: an existing id is kept). */
  async enqueue(x: { key: string; mailbox: string; webhooks: string[]; ticketId: string; articleNo: number; gate: string | null }): Promise<Delivery[]> {
    const now = Date.now();
    const created: Delivery[] = [];
    for (const webhook of x.webhooks) {
      const id = deliveryId(webhook, x.ticketId, x.articleNo);
      if (this.deliveries.has(id)) continue;
      const d: Delivery = {
        id, webhook, ticketId: x.ticketId, articleNo: x.articleNo, event: x.articleNo === 1 ? 'ticket.created' : 'article.created',
        mailbox: x.mailbox, key: x.key, gate: x.gate, status: 'pending', attempts: 0, nextAt: now, lastError: null, lastStatus: null,
        createdAt: new Date(now).toISOString(), finishedAt: null,
      };
      this.put(d);
      created.push(d);
    }
    this.intents.delete(x.key);
    await this.journal.append(...created.map((d): Row => ({ t: 'd', d })), { t: 'x', key: x.key });
    return created;
  }

  /** Record a new state of a delivery durably. */
  async update(d: Delivery, patch: Partial<Delivery>): Promise<Delivery> {
    const next = { ...d, ...patch };
    this.put(next);
    await this.journal.append({ t: 'd', d: next });
    if (next.status !== 'pending') void this.journal.maybeCompact(() => this.liveRows()).catch(() => undefined);
    return next;
  }

  private put(d: Delivery): void {
    this.deliveries.set(d.id, d);
    if (!d.gate) return;
    const set = this.gates.get(d.gate) ?? new Set<string>();
    if (d.status === 'pending') set.add(d.id);
    else set.delete(d.id);
    if (set.size) this.gates.set(d.gate, set);
    else this.gates.delete(d.gate);
  }

  private liveRows(): Row[] {
    const rows: Row[] = [];
    for (const d of this.deliveries.values()) if (d.status !== 'delivered') rows.push({ t: 'd', d });
    for (const [key, i] of this.intents) rows.push({ t: 'i', key, ...i });
    return rows;
  }

  get(id: string): Delivery | undefined {
    return this.deliveries.get(id);
  }

  /** Pending deliveries in creation order (per ticket order is kept by the dispatcher). */
  pending(): Delivery[] {
    return [...this.deliveries.values()].filter((d) => d.status === 'pending');
  }

  dead(webhook?: string): Delivery[] {
    return [...this.deliveries.values()].filter((d) => d.status === 'dead' && (!webhook || d.webhook === webhook));
  }

  /** A server action still waits for a delivery of its message. */
  holds(actionId: string): boolean {
    return this.gates.has(actionId);
  }

  depth(): Map<string, { pending: number; dead: number }> {
    const out = new Map<string, { pending: number; dead: number }>();
    for (const d of this.deliveries.values()) {
      const e = out.get(d.webhook) ?? { pending: 0, dead: 0 };
      if (d.status === 'pending') e.pending++;
      if (d.status === 'dead') e.dead++;
      out.set(d.webhook, e);
    }
    return out;
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
