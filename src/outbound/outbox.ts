// The outbox sender: moves durable messages (src/store/outbox-store.ts) through SMTP. One lane per
// sending mailbox with its own pooled transport, concurrency (maxConnections), batch window, rate
// limit (maxPerMinute) and pause: a failing server only ever holds up its own lane. Each attempt
// ends in sent, retrying (4xx, network, mailbox problems; backoff with jitter) or failed (5xx, or
// too old), and a failure is handed to `onFailed` (the delivery-failed notification). A suspended
// mailbox's mail is held, queued, until it resumes (sender-suspension.ts).
import type { Snapshot } from '../config/snapshot.js';
import { secretsOf } from '../observability/known-secrets.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { OutboxRecovery, OutboxStoreOptions } from '../store/outbox-types.js';
import type { OutboxPort } from '../store/port.js';
import { TERMINAL, type OutboxEntry, type RecipientOutcome } from '../store/outbox-types.js';
import { nextOutboxState, retry, type OutboxTransition, type SendOutcome } from './outcome.js';
import { newEntry, type NewOutboxMessage } from './entry.js';
import { classifySendError, type ClassifiedSend } from './errors.js';
import { Lanes, type Lane } from './lanes.js';
import type { SenderSuspensions } from './sender-suspension.js';
import { resolveSenderCached, transportKey, type OutboundRequest, type SenderResolution } from './resolve.js';
import { TransportPool, type SendResult } from './transport-pool.js';

export interface OutboxOptions extends OutboxStoreOptions {
  /** First retry delay (default 60 s), doubled per attempt up to maxBackoffMs (default 1 h). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A message still undelivered this long after enqueue fails (default 3 days). */
  maxAgeMs?: number;
  /** Pause of a mailbox's lane after a connection or mailbox failure (default 30 s, doubling). */
  laneBackoffMs?: number;
  /** How long stop() lets in-flight sends finish (default 30 s). */
  stopTimeoutMs?: number;
  /** false: start passive (a replica on a shared store, until it holds the outbox lease: setActive). */
  active?: boolean;
  random?: () => number;
}

export interface OutboxDeps {
  snapshot: () => Snapshot | null;
  log: Logger;
  metrics?: Metrics;
  /** Suspension of sending mailboxes whose access is revoked (holds their mail). */
  suspensions?: SenderSuspensions;
}

export interface DeliveryFailure {
  /** Recipients refused for good (or all remaining ones when the message gave up). */
  recipients: RecipientOutcome[];
  reason: string;
}

export class Outbox {
  onFailed: ((entry: OutboxEntry, failure: DeliveryFailure) => void) | null = null;
  readonly #lanes: Lanes;
  readonly #pool: TransportPool;
  readonly #o: Required<Omit<OutboxOptions, keyof OutboxStoreOptions | 'active'>>;
  #live = 0;
  #inFlight = 0;
  #stopping = false;
  #started = false;
  #idleWaiters: (() => void)[] = [];

  /** The entries this sender works on (all unfinished ones: one sender per store for now), by id. */
  readonly #entries = new Map<string, OutboxEntry>();
  #broken: unknown = null;
  readonly #owner = `outbox-${process.pid}`;

  /** What the API and status read of the outbox: its entries (this sender's), whether it failed. */
  readonly store = ((self: Outbox) => ({
    get broken(): unknown {
      return self.#broken;
    },
    get size(): number {
      return self.#entries.size;
    },
    entries: (): IterableIterator<OutboxEntry> => self.#entries.values(),
    /** Resolves once every outcome recorded so far is durable. */
    flush: async (): Promise<void> => void (await Promise.allSettled([...self.#writes])),
  }))(this);

  private constructor(
    private readonly port: OutboxPort,
    private readonly deps: OutboxDeps,
    opts: OutboxOptions,
  ) {
    this.#o = {
      initialBackoffMs: opts.initialBackoffMs ?? 60_000,
      maxBackoffMs: opts.maxBackoffMs ?? 3_600_000,
      maxAgeMs: opts.maxAgeMs ?? 3 * 86_400_000,
      laneBackoffMs: opts.laneBackoffMs ?? 30_000,
      stopTimeoutMs: opts.stopTimeoutMs ?? 30_000,
      random: opts.random ?? Math.random,
    };
    this.#pool = new TransportPool(deps.log);
    this.#lanes = new Lanes({ pump: (lane) => this.#pump(lane), due: (id) => this.#due(id), idleDrop: (key) => this.#pool.drop(key) });
    if (deps.suspensions) deps.suspensions.onRelease = (ids) => ids.forEach((id) => this.#due(id));
  }

  get suspensions(): SenderSuspensions | null {
    return this.deps.suspensions ?? null;
  }

  /**
   * Run the sender on the store's outbox. `recovery`: what the store found at open (messages past
   * their end of data when the process died: counted as sent, unconfirmed, never sent again).
   */
  static async open(port: OutboxPort, deps: OutboxDeps, opts: OutboxOptions = {}, recovery: OutboxRecovery = { unconfirmed: [], tornTail: false }, release?: () => Promise<void>): Promise<Outbox> {
    const o = new Outbox(port, deps, opts);
    o.#release = release ?? null;
    if (opts.active === false) {
      o.#active = false;
      return o;
    }
    for (const e of await port.unfinished()) o.#entries.set(e.id, e);
    const { unconfirmed, tornTail } = recovery;
    if (unconfirmed.length) deps.log.warn({ messages: unconfirmed }, 'outbox: process ended after the end of data of these messages was sent; counted as sent (unconfirmed), not resent');
    if (tornTail) deps.log.warn('outbox: the journal ended in a partial line (a write cut by a crash, never acknowledged): ignored');
    for (const id of unconfirmed) deps.metrics?.outboundSent.inc({ mailbox: o.#entries.get(id)?.mailbox ?? 'default', result: 'unconfirmed' });
    for (const e of o.#entries.values()) if (!TERMINAL.has(e.status)) o.#live++;
    o.#gauge();
    return o;
  }

  /** Begin sending (queued and retrying messages from before the restart included). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const e of this.#entries.values()) if (!TERMINAL.has(e.status)) this.#schedule(e);
  }

  /** false: this replica only enqueues; another replica (the holder of the outbox lease) sends. */
  #active = true;
  #poll: NodeJS.Timeout | null = null;

  /**
   * On a shared store one replica sends at a time (so a mailbox's batching and rate limit hold across
   * replicas, and nothing is sent twice): the one holding the outbox lease. Becoming the sender, it
   * reads the unfinished messages afresh (another sender may have moved them on) and then looks for
   * messages other replicas enqueue, every `pollMs`; giving the lease up, it starts no new attempt.
   */
  async setActive(active: boolean, pollMs = 2_000): Promise<void> {
    if (active === this.#active) return;
    this.#active = active;
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = null;
    this.#entries.clear(); // another sender may move them on meanwhile: read afresh when active again
    this.#live = 0;
    this.#gauge();
    if (!active) return;
    // The poll is set up first: if the first read fails (the store is just coming back from an
    // outage), the next poll reads again instead of this sender staying active with nothing read.
    const pickUp = () => this.#pickUp().catch((err: unknown) => this.deps.log.warn({ err: { message: (err as Error).message } }, 'outbox: could not read new messages; read again in the next poll'));
    this.#poll = setInterval(() => void pickUp(), pollMs);
    this.#poll.unref?.();
    await pickUp();
  }

  /** Unfinished messages this sender does not hold yet (enqueued by other replicas, or all after activation). */
  async #pickUp(): Promise<void> {
    if (!this.#active || this.#stopping) return;
    // only what it does not hold, and no failed ones: this runs every pollMs
    for (const e of await this.port.unfinished({ live: true, skip: new Set(this.#entries.keys()) })) {
      if (this.#entries.has(e.id) || TERMINAL.has(e.status)) continue;
      this.#entries.set(e.id, e);
      this.#live++;
      if (this.#started) this.#schedule(e);
    }
    this.#gauge();
  }

  /** An entry this sender holds. */
  get(id: string): OutboxEntry | undefined {
    return this.#entries.get(id);
  }

  /** An entry by id (held here, or in the store: another sender's, or one finished and no longer held). */
  async find(id: string): Promise<OutboxEntry | undefined> {
    return this.#entries.get(id) ?? (await this.port.get(id)) ?? undefined;
  }

  /** The entry an Idempotency-Key of this company was first used with. */
  async findByIdempotencyKey(company: string | null, key: string): Promise<OutboxEntry | undefined> {
    return (await this.port.findByIdempotencyKey(company, key)) ?? undefined;
  }

  /** Durable enqueue; resolves with the entry once it survives a crash. */
  async enqueue(m: NewOutboxMessage): Promise<OutboxEntry> {
    if (this.#stopping) throw Object.assign(new Error('outbox is stopping'), { status: 503 });
    const added = await this.port.add(newEntry(m));
    const entry = added.entry;
    if (added.existing || !this.#active) return entry; // a passive replica leaves it to the sender
    this.#entries.set(entry.id, entry);
    this.#live++;
    this.#gauge();
    if (this.#started) this.#schedule(entry);
    return entry;
  }

  /** Resolves when no message is queued, retrying or being sent (tests, bench). */
  drained(): Promise<void> {
    if (this.#live === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  get live(): number {
    return this.#live;
  }

  /** Stop taking work, let in-flight sends finish (bounded), close the transports and the store. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#poll) clearInterval(this.#poll);
    this.#lanes.stopAll();
    this.deps.suspensions?.stop();
    const deadline = Date.now() + this.#o.stopTimeoutMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await this.#pool.closeAll();
    while (this.#inFlight > 0 && Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 20));
    await Promise.allSettled([...this.#writes]);
    await this.#release?.();
  }

  #resolve(snap: Snapshot, req: OutboundRequest): SenderResolution {
    return resolveSenderCached(snap, req);
  }

  #schedule(e: OutboxEntry): void {
    const at = e.nextAttemptAt ? Date.parse(e.nextAttemptAt) : 0;
    if (at > Date.now()) this.#lanes.later(e.id, at);
    else this.#due(e.id);
  }

  /** A message is due: find its lane under the current config (it may have changed) and queue it there. */
  #due(id: string): void {
    const e = this.#entries.get(id);
    if (!e || TERMINAL.has(e.status) || e.status === 'sending' || this.#stopping || !this.#active) return;
    const snap = this.deps.snapshot();
    const res = snap ? this.#resolve(snap, e.request) : null;
    const disabled = res?.decision.mailbox ? snap?.mailboxes[res.decision.mailbox]?.enabled === false : false;
    if (!res?.server || disabled) {
      const message = !snap ? 'no configuration loaded' : disabled ? `mailbox ${res!.decision.mailbox} is disabled` : 'no outbound server is configured for this message';
      this.#retry(e, e.attempts, { class: 'mailbox', code: 'ECONFIG', responseCode: null, message, pauseLane: false, connectionLost: false }, this.#o.laneBackoffMs);
      return;
    }
    if (this.#held(e, res.label)) return;
    const lane = this.#lanes.get(transportKey(res.label, res.server), res.label, res.server);
    this.#lanes.enqueue(lane, id, e.attempts === 0);
  }

  /** Hold a message of a suspended mailbox: queued (not failed, not aging into failure), sent after the resume. */
  #held(e: OutboxEntry, label: string): boolean {
    const r = this.deps.suspensions?.hold(label, e.id);
    if (!r) return false;
    if (e.status !== 'queued' || e.lastError?.code !== 'ESUSPENDED') {
      this.#persist(e.id, { status: 'queued', nextAttemptAt: null, lastError: { class: 'mailbox', code: 'ESUSPENDED', responseCode: null, message: `mailbox ${label} is suspended: ${r.reason}` } });
    }
    return true;
  }

  #pump(lane: Lane): void {
    if (this.#stopping || !this.#active) return;
    for (;;) {
      if (lane.inFlight >= lane.server.maxConnections) return;
      const id = this.#lanes.take(lane);
      if (id === null) return;
      const e = this.#entries.get(id);
      if (!e || TERMINAL.has(e.status) || e.status === 'sending') continue;
      const snap = this.deps.snapshot();
      const res = snap ? this.#resolve(snap, e.request) : null;
      if (!res?.server || transportKey(res.label, res.server) !== lane.key) {
        this.#due(id); // the config changed under it: another lane
        continue;
      }
      if (this.#held(e, lane.label)) continue;
      void this.#attempt(lane, e);
    }
  }

  async #attempt(lane: Lane, e: OutboxEntry): Promise<void> {
    lane.inFlight++;
    this.#inFlight++;
    const attempt = e.attempts + 1;
    const startedAt = Date.now();
    try {
      e.status = 'sending'; // in memory only: in the store it stays queued/retrying until there is an outcome
      const raw = Buffer.from(e.raw ?? '', 'latin1');
      const out = await this.#pool.send(lane.key, lane.label, lane.server, { from: e.envelope.from, to: [...e.envelope.to] }, e.messageId, raw, () => this.#pastEndOfData(e, attempt));
      if (this.#broken !== null) return;
      this.#settle(lane, e, out.result ? { result: out.result } : { error: out.error, committed: out.committed }, attempt, startedAt);
    } catch (err) {
      this.deps.log.error({ err, id: e.id }, 'outbox: attempt bookkeeping failed');
    } finally {
      lane.inFlight--;
      this.#inFlight--;
      this.#pump(lane);
      this.#checkIdle();
    }
  }

  /** Apply an attempt's outcome (outcome.ts decides): persist, lane health, counts, schedule, notify. */
  #settle(lane: Lane, e: OutboxEntry, outcome: SendOutcome, attempt: number, startedAt: number): void {
    const secrets = secretsOf(lane.label);
    if ('error' in outcome) {
      const c = classifySendError(outcome.error, secrets);
      void this.deps.suspensions?.failed(lane.label, outcome.error, c, startedAt).catch((err: unknown) => this.deps.log.error({ err, mailbox: lane.label }, 'outbox: suspension check failed'));
    }
    const t = nextOutboxState(e, outcome, { now: Date.now(), attempt, laneFailures: lane.failures, policy: this.#o, secrets });
    if (t.lane.healthy) {
      this.#lanes.healthy(lane);
      this.deps.suspensions?.succeeded(lane.label);
    }
    if (t.lane.pauseMs !== undefined) this.#lanes.pause(lane, t.lane.pauseMs, startedAt);
    if (t.lane.dropTransport) this.#pool.drop(lane.key);
    this.#apply(e, t);
  }

  #apply(e: OutboxEntry, t: OutboxTransition): void {
    this.#persist(e.id, t.patch);
    const c = t.error;
    if (t.verdict === 'retrying') {
      this.deps.metrics?.outboundSent.inc({ mailbox: e.mailbox ?? 'default', result: 'retry' });
      this.deps.log.info({ id: e.id, mailbox: e.mailbox ?? 'default', attempts: t.patch.attempts, class: c?.class, code: c?.code, responseCode: c?.responseCode, error: c?.message, retryInMs: t.nextAt! - Date.now() }, 'outbound message will be retried');
      if (!this.#stopping) this.#lanes.later(e.id, t.nextAt!);
      return;
    }
    if (t.verdict === 'failed') this.deps.log.warn({ id: e.id, mailbox: e.mailbox ?? 'default', attempts: t.patch.attempts, code: c?.code, responseCode: c?.responseCode, error: c?.message }, 'outbound message failed');
    this.#terminal(e, t.verdict);
    if (t.notify) this.#failed(e, t.notify);
  }

  #retry(e: OutboxEntry, attempts: number, c: ClassifiedSend, delay?: number): void {
    this.#apply(e, retry(e, attempts, c, { now: Date.now(), policy: this.#o }, delay));
  }

  #failed(e: OutboxEntry, f: DeliveryFailure): void {
    try {
      this.onFailed?.(e, f);
    } catch (err) {
      this.deps.log.error({ err, id: e.id }, 'outbox: delivery-failed hook threw');
    }
  }

  #terminal(e: OutboxEntry, result: 'sent' | 'failed'): void {
    this.#live--;
    this.#gauge();
    this.deps.metrics?.outboundSent.inc({ mailbox: e.mailbox ?? 'default', result });
    this.#checkIdle();
  }

  #writes = new Set<Promise<void>>();
  /** closes what open() was given to close with the sender (a store opened for it alone) */
  #release: (() => Promise<void>) | null = null;

  /** Apply an outcome here at once, and durably in the store; a failed write stops sending (fail-stop). */
  #persist(id: string, patch: Partial<OutboxEntry>): void {
    const e = this.#entries.get(id);
    if (e) {
      Object.assign(e, patch, { updatedAt: new Date().toISOString() });
      if (TERMINAL.has(e.status)) e.raw = null;
    }
    const w = this.port.settle(id, this.#owner, patch).catch((err: unknown) => {
      this.#broken ??= err;
      this.deps.log.error({ err, id }, 'outbox write failed: sending stops until restart');
    });
    this.#writes.add(w);
    void w.finally(() => this.#writes.delete(w));
  }

  /** The commit point of an attempt (see OutboxPort.markPastEndOfData). */
  #pastEndOfData(e: OutboxEntry, attempt: number): void {
    if (e.committed >= attempt) return;
    // The store first (it records the commit point before this returns), then this copy: with the
    // embedded store they may be one object, whose `committed` the store itself checks.
    this.port.markPastEndOfData(e.id, attempt).catch((err: unknown) => {
      this.#broken ??= err;
      this.deps.log.error({ err, id: e.id }, 'outbox write failed: sending stops until restart');
    });
    e.committed = attempt;
  }

  #gauge(): void {
    this.deps.metrics?.outboxQueueDepth.set(this.#live);
  }

  #checkIdle(): void {
    if (this.#live !== 0 || this.#inFlight !== 0) return;
    const ws = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of ws) w();
  }
}
