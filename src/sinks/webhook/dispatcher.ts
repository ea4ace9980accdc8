// Sends queued deliveries: per-webhook concurrency, in order per ticket, retries with backoff and
// jitter (honouring Retry-After), dead letters after permanent failures or the last try. A slow or
// dead webhook only occupies its own slots: ingestion and other webhooks go on.
import { readSecret } from '../../config/secret.js';
import type { ResolvedWebhook, Snapshot } from '../../config/snapshot.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { TicketStore } from '../../store/index.js';
import { buildPayload } from './payload.js';
import { classifyResponse, nextDelayMs, retryAfterMs } from './policy.js';
import { planTicketOrder, ticketKey } from './order.js';
import type { Delivery, WebhookQueue } from './queue.js';
import { bodyExcerpt, post } from './request.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign } from './signature.js';

export interface DispatcherDeps {
  queue: WebhookQueue;
  store: TicketStore;
  snapshot: () => Snapshot;
  log: Logger;
  metrics: Metrics;
  /** A delivery finished (delivered or dead): its gated server action may now run. */
  onFinished?: (d: Delivery) => void;
  tickMs?: number;
}

export class WebhookDispatcher {
  private inflight = new Map<string, Set<string>>(); // webhook → delivery ids
  private busyTickets = new Set<string>(); // `${webhook}\0${ticketId}`
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running = new Set<Promise<void>>();

  constructor(private deps: DispatcherDeps) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  kick(): void {
    if (!this.stopped) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.running]);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref?.();
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    const snap = this.deps.snapshot();
    const now = Date.now();
    let soonest = Infinity;
    // In order per ticket: only each ticket's oldest pending delivery may go, none behind a dead letter.
    const { heads } = planTicketOrder(this.deps.queue.pending(), (k) => this.deps.queue.oldestDead(k));
    for (const d of heads) {
      const key = ticketKey(d);
      const hook = snap.webhooks[d.webhook];
      if (!hook) continue; // webhook removed from config: kept pending, visible in status
      if (this.busyTickets.has(key)) continue;
      if (d.nextAt > now) {
        soonest = Math.min(soonest, d.nextAt);
        continue;
      }
      const active = this.inflight.get(d.webhook) ?? new Set();
      if (active.size >= hook.concurrency) continue;
      active.add(d.id);
      this.inflight.set(d.webhook, active);
      this.busyTickets.add(key);
      const p = this.attempt(d, hook).finally(() => {
        active.delete(d.id);
        this.busyTickets.delete(key);
        this.running.delete(p);
        this.kick();
      });
      this.running.add(p);
    }
    this.updateGauges();
    this.schedule(Number.isFinite(soonest) ? Math.max(10, soonest - Date.now()) : (this.deps.tickMs ?? 5_000));
  }

  updateGauges(): void {
    const m = this.deps.metrics;
    for (const [hook, c] of this.deps.queue.totals()) {
      m.webhookQueueDepth.set({ webhook: hook }, c.pending);
      m.webhookDeadLetters.set({ webhook: hook }, c.dead);
    }
  }

  private async attempt(d: Delivery, hook: ResolvedWebhook): Promise<void> {
    const log = this.deps.log.child({ webhook: hook.id, delivery: d.id, ticket: d.ticketId });
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    let retryAfter: number | null = null;
    try {
      const ticket = await this.deps.store.getTicket(d.ticketId);
      if (!ticket) throw new Error(`ticket ${d.ticketId} is not in the store`);
      const snap = this.deps.snapshot();
      const payload = await buildPayload(d, ticket, {
        baseUrl: snap.server.publicUrl ?? `http://${snap.server.listen.host}:${snap.server.listen.port}`,
        inlineUpTo: hook.inlineAttachmentsUpTo,
        readBlob: (sha) => this.deps.store.blobs.get(sha),
      });
      const body = JSON.stringify(payload);
      const secret = hook.secret ? (await readSecret(hook.secret)).reveal() : '';
      const ts = Math.floor(Date.now() / 1000);
      const res = await post(hook, body, {
        'content-type': 'application/json',
        'user-agent': 'mailroom-webhook/1',
        [DELIVERY_HEADER]: d.id,
        [EVENT_HEADER]: d.event,
        [TIMESTAMP_HEADER]: String(ts),
        [SIGNATURE_HEADER]: sign(secret, ts, body),
      });
      status = res.status;
      retryAfter = retryAfterMs(res.headers.get('retry-after'));
      if (classifyResponse(status) !== 'delivered') error = `HTTP ${status}: ${await bodyExcerpt(res)}`;
      else await res.body?.cancel().catch(() => undefined);
    } catch (e) {
      error = e instanceof Error ? (e.name === 'TimeoutError' ? `timeout after ${hook.timeoutMs} ms` : e.message) : String(e);
    }
    const outcome = classifyResponse(status);
    const attempts = d.attempts + 1;
    this.deps.metrics.webhookDeliveries.inc({ webhook: hook.id, result: outcome === 'delivered' ? 'delivered' : error && status === null ? 'error' : outcome });
    if (outcome === 'delivered') {
      this.deps.metrics.webhookLatency?.observe({ webhook: hook.id }, (Date.now() - Date.parse(d.createdAt)) / 1000);
      const done = await this.deps.queue.update(d, { status: 'delivered', attempts, lastStatus: status, lastError: null, finishedAt: new Date().toISOString() });
      log.debug({ status, ms: Date.now() - started }, 'webhook delivered');
      this.updateGauges();
      this.deps.onFinished?.(done);
    } else if (outcome === 'permanent' || attempts >= hook.maxAttempts) {
      const done = await this.deps.queue.update(d, { status: 'dead', attempts, lastStatus: status, lastError: error, finishedAt: new Date().toISOString() });
      log.warn({ status, attempts, error }, 'webhook delivery dead-lettered');
      this.updateGauges();
      this.deps.onFinished?.(done);
    } else {
      const delay = nextDelayMs(attempts, hook, retryAfter);
      await this.deps.queue.update(d, { attempts, lastStatus: status, lastError: error, nextAt: Date.now() + delay });
      log.info({ status, attempts, error, retryInMs: delay }, 'webhook delivery will be retried');
    }
  }

  /** A held ticket was approved or rejected: send its deliveries now, or never. */
  async ticketSettled(ticketId: string): Promise<void> {
    if ((await this.deps.queue.settleHeld(ticketId)).length) this.kick();
  }

  /** Put dead letters back in the queue (all of a webhook's, or one). */
  async replay(filter: { webhook?: string; id?: string }): Promise<number> {
    let n = 0;
    for (const d of this.deps.queue.dead(filter.webhook)) {
      if (filter.id && d.id !== filter.id) continue;
      await this.deps.queue.update(d, { status: 'pending', attempts: 0, nextAt: Date.now(), finishedAt: null });
      n++;
    }
    this.kick();
    return n;
  }
}
