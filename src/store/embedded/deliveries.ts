// Why this file exists: the embedded store's webhook delivery queue as the port's claimed queue, over
// the webhook journal (webhook-queue.ts keeps states and indexes; claims live here, in memory).
import { planTicketOrder, ticketKey } from '../../sinks/webhook/order.js';
import type { WebhookQueue } from './webhook-queue.js';
import type { DeliveryRecord, DeliverySummary } from '../delivery-types.js';
import type { DeliveryClaimRequest, DeliveryPort } from '../port.js';
import { Claims } from './claims.js';

export class EmbeddedDeliveries implements DeliveryPort {
  readonly #claims = new Claims();

  constructor(private readonly queue: WebhookQueue) {}

  async claimDue(req: DeliveryClaimRequest): Promise<DeliveryRecord[]> {
    const { heads } = planTicketOrder(this.queue.pending(), (k) => this.queue.oldestDead(k));
    // A ticket with any live claim (its head is being sent) gets no second delivery now.
    const busy = new Set<string>();
    for (const d of this.queue.pending()) if (this.#claims.held(d.id, req.now)) busy.add(ticketKey(d));
    const free = { ...req.capacity };
    const out: DeliveryRecord[] = [];
    const takenOver: string[] = [];
    for (const d of heads) {
      if (d.nextAt > req.now || busy.has(ticketKey(d)) || !((free[d.webhook] ?? 0) > 0)) continue;
      free[d.webhook]!--;
      if (this.#claims.take(d.id, req.owner, req.now + req.ttlMs)) takenOver.push(d.id);
      out.push({ ...d });
    }
    if (takenOver.length) req.onTakenOver?.(takenOver);
    return out;
  }

  async nextDueAt(): Promise<number | null> {
    const { heads } = planTicketOrder(this.queue.pending(), (k) => this.queue.oldestDead(k));
    let soonest: number | null = null;
    for (const d of heads) if (soonest === null || d.nextAt < soonest) soonest = d.nextAt;
    return soonest;
  }

  async #settle(id: string, owner: string, patch: Partial<DeliveryRecord>): Promise<void> {
    this.#claims.settle(id, owner, Date.now());
    const d = this.queue.get(id);
    if (d) await this.queue.update(d, patch);
  }

  complete(id: string, owner: string, o: { status: number; at: number }): Promise<void> {
    const d = this.queue.get(id);
    return this.#settle(id, owner, { status: 'delivered', attempts: (d?.attempts ?? 0) + 1, lastStatus: o.status, lastError: null, finishedAt: new Date(o.at).toISOString() });
  }

  retryAt(id: string, owner: string, o: { status: number | null; error: string; nextAt: number }): Promise<void> {
    const d = this.queue.get(id);
    return this.#settle(id, owner, { attempts: (d?.attempts ?? 0) + 1, lastStatus: o.status, lastError: o.error, nextAt: o.nextAt });
  }

  deadLetter(id: string, owner: string, o: { status: number | null; error: string; at: number }): Promise<void> {
    const d = this.queue.get(id);
    return this.#settle(id, owner, { status: 'dead', attempts: (d?.attempts ?? 0) + 1, lastStatus: o.status, lastError: o.error, finishedAt: new Date(o.at).toISOString() });
  }

  async release(ids: string[], owner: string): Promise<void> {
    this.#claims.release(ids, owner);
  }

  async replay(webhook: string, deliveryId?: string): Promise<number> {
    let n = 0;
    for (const d of this.queue.dead(webhook)) {
      if (deliveryId && d.id !== deliveryId) continue;
      await this.queue.update(d, { status: 'pending', attempts: 0, nextAt: Date.now(), finishedAt: null });
      n++;
    }
    return n;
  }

  async dead(webhook?: string): Promise<DeliveryRecord[]> {
    return this.queue.dead(webhook).map((d) => ({ ...d }));
  }

  async get(id: string): Promise<DeliveryRecord | null> {
    const d = this.queue.get(id);
    return d ? { ...d } : null;
  }

  async gating(actionIds: string[]): Promise<Set<string>> {
    return new Set(actionIds.filter((a) => this.queue.holds(a)));
  }

  async summary(): Promise<Map<string, DeliverySummary>> {
    return this.queue.depth();
  }
}
