// The running daemon: loads the config, serves HTTP, runs the supervised parts, reloads on change,
// stops cleanly. Reload = load → validate → diff → apply; a failed reload changes nothing.
import type { EntityChange } from '../config/diff.js';
import { hashConfig, loadConfig, type LoadOptions } from '../config/load.js';
import { formatProblem, type Problem } from '../config/problems.js';
import type { Snapshot } from '../config/snapshot.js';
import { HttpServer } from '../http/server.js';
import { registerMetricsRoute } from '../http/metrics-route.js';
import { registerOpsRoutes } from '../http/ops-routes.js';
import { registerMessageRoutes } from '../http/message-routes.js';
import { registerWebhookRoutes } from '../http/webhook-routes.js';
import { registerTicketRoutes } from '../http/ticket-routes.js';
import { registerMailboxRoutes } from '../http/mailbox-routes.js';
import { SuspensionStore, type SuspensionDeps, type SuspensionInfo } from '../inbound/suspension.js';
import { OAuthStateStore } from '../oauth/token-state.js';
import { registerOpenApiRoute } from '../http/openapi-route.js';
import { registerConsole } from '../console/index.js';
import { OAuthManager } from '../oauth/manager.js';
import { releaseOAuthManager, useOAuthManager } from '../oauth/registry.js';
import { credentialExpiringNotice, mailboxSuspendedNotice, notifyAboutMailbox, type MailboxNotice } from '../outbound/notify.js';
import { acknowledge } from '../outbound/acknowledge.js';
import { createParsePool, type ParsePool } from '../ingest/parse-pool.js';
import type { PollerOptions } from '../inbound/poller.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { syncKnownSeries } from '../observability/known-series.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { startOutbound, type Outbox, type OutboxOptions } from '../outbound/index.js';
import type { TightenedModes } from '../store/index.js';
import { openStores } from '../store/open.js';
import type { Stores } from '../store/port.js';
import { WebhookDispatcher } from '../sinks/webhook/dispatcher.js';
import { emptyFiles } from './reload-guard.js';
import { reloadVerdict } from './reload-verdict.js';
import { Supervisor } from './supervisor.js';
import { watchConfig, type ConfigWatcher } from './watch.js';
import { tuneHeap } from './heap.js';
import { LeaseCoordinator } from '../cluster/coordinator.js';
import { distinctConfigHashes } from '../cluster/config-skew.js';
import { DEFAULT_STORE_CHECK_MS, DEFAULT_STORE_PING_TIMEOUT_MS, StoreCheck } from './store-check.js';

/** The outbox's lease (no mailbox id can start with @): its holder is the one replica that sends. */
const OUTBOX_LEASE = '@outbox';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export class ConfigInvalidError extends Error {
  constructor(public problems: Problem[]) {
    super(`configuration is invalid (${problems.filter((p) => p.severity === 'error').length} errors)`);
  }
}

export interface DaemonOptions extends LoadOptions {
  configPath: string;
  logger?: Logger;
  /** Override server.listen (tests). */
  listen?: { host: string; port: number };
  /** Worker threads for MIME parsing (default: one per core but one, at least one; 0 = in-process). */
  parseWorkers?: number;
  pollerOptions?: PollerOptions;
  /** Watch the config path for changes (default true). */
  watch?: boolean;
  watchDebounceMs?: number;
  /** After a file event, re-read until the content is stable for this long (default 250 ms). */
  watchSettleMs?: number;
  /** Outbox retry/backoff settings (tests use short ones). */
  outbox?: OutboxOptions;
  /** Auth refusals in a row before a mailbox is suspended, how often a suspended one re-reads its secrets. */
  suspension?: Pick<SuspensionDeps, 'authFailureThreshold' | 'recheckMs'>;
  /** How often OAuth2 credential expiry is recomputed (default 5 min). */
  oauthSweepMs?: number;
  /** On a shared store (several replicas): this replica's id (default MAILROOM_REPLICA_ID, else host-pid-random) and the mailbox lease TTL (default store.leaseTtl; set here by tests). */
  replicaId?: string;
  leaseTtlMs?: number;
  /** How often the store is pinged for readiness (default 5 s), and how long a ping may take (default 2 s). */
  storeCheckMs?: number;
  storePingTimeoutMs?: number;
}

export type { ReloadResult, ReloadTrigger } from './reload-types.js';
import type { ReloadResult, ReloadTrigger } from './reload-types.js';

export class Daemon {
  readonly log: Logger;
  readonly metrics: Metrics = createMetrics();
  readonly http: HttpServer;
  snapshot: Snapshot | null = null;
  /** every piece of durable state, behind the store port */
  stores: Stores | null = null;
  /** on a shared store: the lease loop of this replica */
  coordinator: LeaseCoordinator | null = null;
  readonly replicaId: string;
  outbox: Outbox | null = null;
  parser: ParsePool | null = null;
  supervisor: Supervisor | null = null;
  webhooks: WebhookDispatcher | null = null;
  oauth: OAuthManager | null = null;
  lastReload: ReloadResult | null = null;
  /** Settings changed in config that only take effect after a restart (kept as running). */
  pendingRestart: EntityChange[] = [];
  private stopping: Promise<void> | null = null;
  private watcher: ConfigWatcher | null = null;
  /** config files that were empty in the running config (an emptied one is refused on reload) */
  private emptyAtApply = new Set<string>();
  private reloading: Promise<ReloadResult> = Promise.resolve(null as unknown as ReloadResult);
  /** The settings the process started with and keeps until restart. */
  private running: { listen: Snapshot['server']['listen']; limits: Snapshot['server']['limits']; metricsListen: Snapshot['server']['metricsListen']; store: Snapshot['store'] } | null = null;
  /** The listener of server.metricsListen (only /metrics and health), when configured. */
  metricsHttp: HttpServer | null = null;
  /** readiness gated on a working store */
  private storeCheck: StoreCheck | null = null;

  /** The HTTP listeners (main, and server.metricsListen's): both answer /-/ready the same. */
  private listeners(): HttpServer[] {
    return this.metricsHttp ? [this.http, this.metricsHttp] : [this.http];
  }

  constructor(private opts: DaemonOptions) {
    this.log = opts.logger ?? createLogger();
    this.replicaId = opts.replicaId ?? process.env.MAILROOM_REPLICA_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.http = new HttpServer(this.log);
    registerOpsRoutes(this);
    registerMessageRoutes(this);
    registerWebhookRoutes(this);
    registerTicketRoutes(this);
    registerMailboxRoutes(this);
    registerOpenApiRoute(this.http);
    registerConsole(this);
  }

  async start(): Promise<void> {
    const { snapshot, problems } = await loadConfig(this.opts.configPath, this.opts);
    for (const p of problems) this.log[p.severity === 'error' ? 'error' : 'warn']({ problem: formatProblem(p) }, 'config problem');
    if (!snapshot) {
      this.metrics.configLastReloadSuccessful.set(0);
      throw new ConfigInvalidError(problems);
    }
    this.snapshot = snapshot;
    this.applyLogLevel(snapshot);
    const listen = this.opts.listen ?? snapshot.server.listen;
    this.running = { listen, limits: snapshot.server.limits, metricsListen: snapshot.server.metricsListen, store: snapshot.store };
    tuneHeap();
    await this.http.listen(listen.host, listen.port, snapshot.server.limits);
    if (snapshot.server.metricsListen) {
      this.metricsHttp = new HttpServer(this.log);
      registerMetricsRoute(this.metricsHttp, this, 'metrics');
      await this.metricsHttp.listen(snapshot.server.metricsListen.host, snapshot.server.metricsListen.port, snapshot.server.limits);
    }
    const onModesTightened = ({ changed, refused }: TightenedModes) => {
      if (changed.length) this.log.warn({ store: snapshot.store.path, count: changed.length, first: changed.slice(0, 5) }, 'store was open to other local users: directories tightened to 0700, files to 0600');
      if (refused.length) this.log.warn({ store: snapshot.store.path, count: refused.length, first: refused.slice(0, 5) }, 'store entries open to other local users could not be tightened (owned by another user): chmod them to 0700/0600');
    };
    const stores = await openStores(snapshot.store, { embedded: { tickets: { onModesTightened } } });
    this.stores = stores;
    this.metrics.storeUp.set(1);
    this.storeCheck = new StoreCheck({
      ping: (ms) => stores.ping(ms),
      log: this.log,
      intervalMs: this.opts.storeCheckMs ?? DEFAULT_STORE_CHECK_MS,
      timeoutMs: this.opts.storePingTimeoutMs ?? DEFAULT_STORE_PING_TIMEOUT_MS,
      onChange: (up, reason) => {
        this.metrics.storeUp.set(up ? 1 : 0);
        for (const h of this.listeners()) h.unready = reason;
      },
    });
    this.storeCheck.start();
    // One suspension state for both sides of a mailbox: the outbox holds a suspended mailbox's mail.
    const suspensions = await SuspensionStore.over(stores.control);
    const onSuspendedSender = (id: string, s: SuspensionInfo, sides: { reads: boolean; sends: boolean }) => this.notifyMailbox(id, mailboxSuspendedNotice(id, s, sides));
    this.outbox = await startOutbound(stores.outbox, stores.outboxRecovery, { snapshot: () => this.snapshot, log: this.log, metrics: this.metrics, suspension: { store: suspensions, ...this.opts.suspension, onSuspended: onSuspendedSender, onResumed: (id) => this.oauth?.forget(id) } }, { ...this.opts.outbox, active: !stores.cluster });
    this.webhooks = new WebhookDispatcher({
      deliveries: stores.deliveries,
      owner: `webhooks-${this.replicaId}`, // not the pid: every pod of a Deployment may run as the same pid
      tickets: stores.tickets,
      snapshot: () => this.snapshot!,
      log: this.log,
      metrics: this.metrics,
      // A finished delivery releases its gated server action: let that mailbox poll now.
      onFinished: (d) => this.supervisor?.poller(d.mailbox)?.pollNow(),
    });
    const oauth = (this.oauth = new OAuthManager({ state: new OAuthStateStore(stores.control), log: this.log, metrics: this.metrics, onExpiring: (id, h) => this.notifyMailbox(id, credentialExpiringNotice(id, h)) }));
    useOAuthManager(oauth);
    this.parser = createParsePool({ ...(this.opts.parseWorkers !== undefined && { size: this.opts.parseWorkers }) });
    this.supervisor = new Supervisor({
      intake: stores.intake,
      sync: stores.sync,
      parser: this.parser,
      log: this.log,
      metrics: this.metrics,
      snapshot: () => this.snapshot!,
      senderRate: { hits: (reqs) => stores.control.hits(reqs.map((r) => ({ ...r, windowMs: 3_600_000 }))) },
      webhooks: { kick: () => this.webhooks?.kick() },
      heldActions: (ids) => stores.deliveries.gating(ids),
      acknowledge: (input) => void acknowledge(this, input).catch((err: unknown) => this.log.warn({ err, ticket: input.ticketId }, 'acknowledgement not queued')),
      ...(this.opts.pollerOptions && { pollerOptions: this.opts.pollerOptions }),
      suspension: {
        store: suspensions,
        ...this.opts.suspension,
        onSuspended: (mb, s) => this.notifyMailbox(mb.id, mailboxSuspendedNotice(mb.id, s)),
        onAuthRefused: (id) => oauth.invalidate(id),
        onResumed: (id) => oauth.forget(id),
      },
      credentialHealth: (id) => oauth.healthOf(id),
    });
    if (stores.cluster) {
      // Several replicas may share the store: poll only the mailboxes this one holds the lease of.
      await this.supervisor.setOwned(new Map());
      await this.supervisor.apply(snapshot);
      const supervisor = this.supervisor;
      this.coordinator = new LeaseCoordinator({
        cluster: stores.cluster,
        self: this.replicaId,
        ttlMs: this.opts.leaseTtlMs ?? (snapshot.store.driver === 'postgres' ? snapshot.store.leaseTtlMs : 15_000),
        log: this.log.child({ replica: this.replicaId }),
        configHash: () => this.snapshot?.hash ?? null,
        // the outbox is leased like a mailbox: one replica sends (see Outbox.setActive)
        mailboxes: () => [OUTBOX_LEASE, ...Object.values(this.snapshot?.mailboxes ?? {}).filter((m) => m.inbound && m.enabled).map((m) => m.id)],
        onOwned: async (owned) => {
          // every configured inbound mailbox: 1 held here, 0 not (a mailbox at 0 on every replica is polled by nobody)
          this.metrics.mailboxOwned.reset();
          for (const m of Object.values(this.snapshot?.mailboxes ?? {})) if (m.inbound && m.enabled) this.metrics.mailboxOwned.set({ mailbox: m.id }, owned.has(m.id) ? 1 : 0);
          await this.outbox?.setActive(owned.has(OUTBOX_LEASE));
          await supervisor.setOwned(new Map([...owned].filter(([m]) => m !== OUTBOX_LEASE)));
        },
        onRound: (r) => {
          this.metrics.clusterMembers.set(r.members.length);
          this.metrics.clusterConfigHashes.set(distinctConfigHashes(r.members));
          this.metrics.mailboxesOwned.set(r.owned);
          this.metrics.leaseAcquired.inc(r.acquired);
          this.metrics.leaseTakeovers.inc(r.takenOver);
        },
      });
      await this.coordinator.start();
    } else await this.supervisor.apply(snapshot);
    oauth.start(() => this.snapshot, this.opts.oauthSweepMs);
    this.webhooks.start();
    this.markApplied(snapshot);
    this.emptyAtApply = emptyFiles(problems);
    this.lastReload = { status: 'applied', trigger: 'startup', at: new Date().toISOString(), hash: snapshot.hash, changes: [], restartRequired: [], problems };
    if (this.opts.watch !== false) this.watcher = await watchConfig(this.opts.configPath, () => void this.reload('watch'), this.opts.watchDebounceMs);
    for (const h of this.listeners()) h.ready = true;
    this.log.info({ listen: this.http.address(), hash: snapshot.hash.slice(0, 12), files: snapshot.files.length, mailboxes: Object.keys(snapshot.mailboxes).length }, 'mailroom started');
  }

  /** Reloads are serialized: a trigger during a reload waits for it, then re-reads. */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    const next = this.reloading.catch(() => undefined).then(() => this.doReload(trigger));
    this.reloading = next;
    return next;
  }

  private async doReload(trigger: ReloadTrigger): Promise<ReloadResult> {
    const at = new Date().toISOString();
    const current = this.snapshot;
    if (!current || this.stopping) return { status: 'failed', trigger, at, hash: null, changes: [], restartRequired: [], problems: [], error: 'not running' };
    let loaded = await loadConfig(this.opts.configPath, this.opts);
    if (trigger === 'watch') {
      // A file event can arrive while a writer is still writing (truncate, then write): re-read
      // after a short pause until two reads agree, so a half-written file is never applied.
      // Only the bytes are compared (read and hashed): a config is parsed again only when it moved.
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, this.opts.watchSettleMs ?? 250));
        if ((await hashConfig(this.opts.configPath)) === loaded.hash) break;
        loaded = await loadConfig(this.opts.configPath, this.opts);
      }
    }
    const verdict = reloadVerdict(loaded, { snapshot: current, emptyAtApply: this.emptyAtApply, fixed: this.running!, lastStatus: this.lastReload?.status ?? null });
    if (verdict.kind === 'unchanged') {
      this.log.debug({ trigger }, 'config unchanged');
      const result: ReloadResult = { status: 'unchanged', trigger, at, hash: verdict.hash, changes: [], restartRequired: [], problems: [] };
      if (!verdict.clearsFailure) return result;
      this.markApplied(current);
      this.log.info({ trigger }, 'config back to the running one: last reload failure cleared');
      return this.record(result);
    }
    if (verdict.kind === 'invalid') {
      for (const p of verdict.problems) this.log[p.severity === 'error' ? 'error' : 'warn']({ trigger, problem: formatProblem(p) }, 'config reload rejected');
      this.metrics.configReloadsTotal.inc({ result: 'invalid' });
      this.metrics.configLastReloadSuccessful.set(0);
      return this.record({ status: 'invalid', trigger, at, hash: verdict.hash, changes: [], restartRequired: [], problems: verdict.problems });
    }
    const { hash, snapshot: applied, changes, restartRequired, problems } = verdict;
    try {
      this.snapshot = applied;
      const r = await this.supervisor!.apply(applied);
      void this.coordinator?.round(); // a mailbox added or removed moves leases now, not in a round's time
      this.markApplied(applied);
      this.emptyAtApply = emptyFiles(problems);
      this.applyLogLevel(applied);
      this.metrics.configReloadsTotal.inc({ result: 'success' });
      this.pendingRestart = restartRequired;
      void this.oauth?.sweep(applied).catch(() => undefined);
      for (const c of restartRequired) this.log.warn({ kind: c.kind, id: c.id }, 'config change needs a restart to take effect');
      this.log.info({ trigger, hash: hash?.slice(0, 12), changes: changes.length, ...r }, 'config reloaded');
      return this.record({ status: 'applied', trigger, at, hash, changes, restartRequired, problems });
    } catch (err) {
      this.log.error({ err, trigger }, 'config apply failed: rolling back');
      this.snapshot = current;
      await this.supervisor!.apply(current).catch((e: unknown) => this.log.error({ err: e }, 'rollback failed'));
      this.metrics.configReloadsTotal.inc({ result: 'failed' });
      this.metrics.configLastReloadSuccessful.set(0);
      return this.record({ status: 'failed', trigger, at, hash, changes, restartRequired, problems, error: (err as Error).message });
    }
  }

  /** Mail a notice about a mailbox to its companies (mailbox-suspended, credential-expiring). */
  private async notifyMailbox(mailbox: string, n: MailboxNotice): Promise<boolean> {
    if (!this.outbox || !this.snapshot) return false;
    return notifyAboutMailbox(this.outbox, this.snapshot, mailbox, n, this.log);
  }

  private record(r: ReloadResult): ReloadResult {
    this.lastReload = r;
    return r;
  }

  /** log.level (or MAILROOM_LOG_LEVEL) applies live: child loggers (one per poller, ...) that set no
   * level of their own follow the root's. A logger passed in by the caller keeps the caller's level. */
  private applyLogLevel(snapshot: Snapshot): void {
    if (this.opts.logger || this.log.level === snapshot.log.level) return;
    const from = this.log.level;
    this.log.level = snapshot.log.level;
    this.log.info({ from, to: snapshot.log.level }, 'log level changed');
  }

  private markApplied(snapshot: Snapshot): void {
    this.metrics.configLastReloadSuccessful.set(1);
    this.metrics.configLastReloadSuccessTimestamp.set(Date.now() / 1000);
    this.metrics.configInfo.reset();
    this.metrics.configInfo.set({ hash: snapshot.hash.slice(0, 12) }, 1);
    syncKnownSeries(this.metrics, snapshot);
  }

  /** Stop taking work, finish in-flight commits and server actions, close everything. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const h of this.listeners()) h.ready = false;
      this.storeCheck?.stop();
      this.log.info('mailroom stopping');
      await this.watcher?.close();
      await this.reloading.catch(() => undefined);
      await this.coordinator?.stop(); // stop polling and give the leases up: the other replicas take over at once
      await this.supervisor?.stop();
      await this.webhooks?.stop();
      await this.parser?.close();
      await this.outbox?.stop();
      await this.oauth?.stop();
      releaseOAuthManager(this.oauth);
      await this.stores?.close();
      await Promise.all([this.http.close(), this.metricsHttp?.close()]);
      this.log.info('mailroom stopped');
      this.log.flush?.();
    })();
    return this.stopping;
  }
}
