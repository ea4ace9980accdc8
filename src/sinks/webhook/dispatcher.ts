// Sends queued deliveries: per-webhook concurrency, in order per ticket, retries with backoff and
// jitter (honouring Retry-After), dead letters after permanent failures or the last try. A slow or
// dead webhook only occupies its own slots: ingestion and other webhooks go on.
import { readSecret } from '../../config/secret.js';
import type { ResolvedWebhook, Snapshot } from '../../config/snapshot.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { DeliveryRecord } from '../../store/delivery-types.js';
import type { DeliveryPort, TicketPort } from '../../store/port.js';
import { buildPayload } from './payload.js';
import { classifyResponse, nextDelayMs, retryAfterMs } from './policy.js';
import { bodyExcerpt, post } from './request.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign } from './signature.js';

type Delivery = DeliveryRecord;

export interface DispatcherDeps {
  deliveries: DeliveryPort;
  tickets: Pick<TicketPort, 'get' | 'readBlob'>;
  /** who claims deliveries (this replica) */
  owner?: string;
  snapshot: () => Snapshot;
  log: Logger;
  metrics: Metrics;
  /** A delivery finished (delivered or dead): its gated server action may now run. */
  onFinished?: (d: Delivery) => void;
  tickMs?: number;
}

/** A claim outlives the longest attempt: a delivery is never claimed twice while it is being sent. */
const claimTtl = (snap: Snapshot) => 2 * Math.max(30_000, ...Object.values(snap.webhooks).map((w) => w.timeoutMs)) + 30_000;

export class WebhookDispatcher {
  private inflight = new Map<string, number>(); // webhook → deliveries being sent
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private ticking = false;
  private again = false;
  private running = new Set<Promise<void>>();
  /** who claims deliveries: unique per replica, or a stalled replica's late outcome would pass the claim check */
  readonly owner: string;

  constructor(private deps: DispatcherDeps) {
    this.owner = deps.owner ?? `dispatcher-${process.pid}`;
    deps.metrics.claimTakeovers.inc({ queue: 'webhook' }, 0); // exported from the start: rate() sees the first one
  }

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
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  /** Claim what may go now (per-ticket order and capacity are the store's: DeliveryPort.claimDue), send it. */
  private async tick(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    if (this.ticking) return void (this.again = true);
    this.ticking = true;
    try {
      const snap = this.deps.snapshot();
      const capacity: Record<string, number> = {};
      for (const hook of Object.values(snap.webhooks)) capacity[hook.id] = Math.max(0, hook.concurrency - (this.inflight.get(hook.id) ?? 0));
      const onTakenOver = (ids: string[]) => {
        this.deps.metrics.claimTakeovers.inc({ queue: 'webhook' }, ids.length);
        this.deps.log.warn({ deliveries: ids }, 'webhook deliveries claimed over an expired claim: their claimer died or stalled; sent again with the same delivery id');
      };
      const claimed = await this.deps.deliveries.claimDue({ owner: this.owner, ttlMs: claimTtl(snap), now: Date.now(), capacity, onTakenOver });
      for (const d of claimed) {
        const hook = snap.webhooks[d.webhook]!;
        this.inflight.set(d.webhook, (this.inflight.get(d.webhook) ?? 0) + 1);
        const p = this.attempt(d, hook)
          .catch((err: unknown) => {
            this.deps.log.error({ err, delivery: d.id }, 'webhook attempt bookkeeping failed');
            return this.deps.deliveries.release([d.id], this.owner);
          })
          .finally(() => {
            this.inflight.set(d.webhook, (this.inflight.get(d.webhook) ?? 1) - 1);
            this.running.delete(p);
            this.kick();
          });
        this.running.add(p);
      }
      // the gauges keep their last values while the store does not answer (a PostgreSQL outage must not end the process)
      void this.updateGauges().catch((err: unknown) => this.deps.log.debug({ err }, 'webhook gauges not updated'));
      const next = await this.deps.deliveries.nextDueAt();
      if (!this.stopped) this.schedule(next === null ? (this.deps.tickMs ?? 5_000) : Math.min(this.deps.tickMs ?? 5_000, Math.max(10, next - Date.now())));
    } catch (err) {
      this.deps.log.error({ err }, 'webhook dispatcher tick failed');
      if (!this.stopped) this.schedule(this.deps.tickMs ?? 5_000);
    } finally {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }

  async updateGauges(): Promise<void> {
    const m = this.deps.metrics;
    for (const [hook, c] of await this.deps.deliveries.summary()) {
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
      const ticket = await this.deps.tickets.get(d.ticketId);
      if (!ticket) throw new Error(`ticket ${d.ticketId} is not in the store`);
      const snap = this.deps.snapshot();
      const payload = await buildPayload(d, ticket, {
        baseUrl: snap.server.publicUrl ?? `http://${snap.server.listen.host}:${snap.server.listen.port}`,
        inlineUpTo: hook.inlineAttachmentsUpTo,
        readBlob: async (sha) => {
          const b = await this.deps.tickets.readBlob(sha);
          if (!b) throw Object.assign(new Error(`blob ${sha} is not in the store`), { code: 'ENOENT' });
          return b;
        },
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
      await this.deps.deliveries.complete(d.id, this.owner, { status: status!, at: Date.now() });
      log.debug({ status, ms: Date.now() - started }, 'webhook delivered');
      // the gauges keep their last values while the store does not answer (a PostgreSQL outage must not end the process)
      void this.updateGauges().catch((err: unknown) => this.deps.log.debug({ err }, 'webhook gauges not updated'));
      this.deps.onFinished?.({ ...d, status: 'delivered', attempts });
    } else if (outcome === 'permanent' || attempts >= hook.maxAttempts) {
      await this.deps.deliveries.deadLetter(d.id, this.owner, { status, error: error ?? 'failed', at: Date.now() });
      log.warn({ status, attempts, error }, 'webhook delivery dead-lettered');
      // the gauges keep their last values while the store does not answer (a PostgreSQL outage must not end the process)
      void this.updateGauges().catch((err: unknown) => this.deps.log.debug({ err }, 'webhook gauges not updated'));
      this.deps.onFinished?.({ ...d, status: 'dead', attempts });
    } else {
      const delay = nextDelayMs(attempts, hook, retryAfter);
      await this.deps.deliveries.retryAt(d.id, this.owner, { status, error: error ?? 'failed', nextAt: Date.now() + delay });
      log.info({ status, attempts, error, retryInMs: delay }, 'webhook delivery will be retried');
    }
  }

  /** Put dead letters back in the queue (all of a webhook's, or one). */
  async replay(filter: { webhook: string; id?: string }): Promise<number> {
    const n = await this.deps.deliveries.replay(filter.webhook, filter.id);
    this.kick();
    return n;
  }
}
