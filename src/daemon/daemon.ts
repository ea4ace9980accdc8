// The running daemon: loads the config, serves HTTP, runs the supervised parts, reloads on change,
// stops cleanly. Reload = load → validate → diff → apply; a failed reload changes nothing.
import { diffSnapshots, type EntityChange } from '../config/diff.js';
import { loadConfig, type LoadOptions } from '../config/load.js';
import { formatProblem, type Problem } from '../config/problems.js';
import type { Snapshot } from '../config/snapshot.js';
import { HttpServer } from '../http/server.js';
import { registerOpsRoutes } from '../http/ops-routes.js';
import { registerMessageRoutes } from '../http/message-routes.js';
import { registerWebhookRoutes } from '../http/webhook-routes.js';
import { registerTicketRoutes } from '../http/ticket-routes.js';
import { registerMailboxRoutes } from '../http/mailbox-routes.js';
import { SuspensionStore, type SuspensionDeps, type SuspensionInfo } from '../inbound/suspension.js';
import { OAuthManager } from '../oauth/manager.js';
import { releaseOAuthManager, useOAuthManager } from '../oauth/registry.js';
import { credentialExpiringNotice, mailboxSuspendedNotice, notifyAboutMailbox, type MailboxNotice } from '../outbound/notify.js';
import { SenderRate } from '../ingest/classify.js';
import { acknowledge } from '../outbound/acknowledge.js';
import { createParsePool, type ParsePool } from '../ingest/parse-pool.js';
import type { PollerOptions } from '../inbound/poller.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { syncKnownSeries } from '../observability/known-series.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { startOutbound, type Outbox, type OutboxOptions } from '../outbound/index.js';
import { openTicketStore, type TicketStore } from '../store/index.js';
import { WebhookDispatcher } from '../sinks/webhook/dispatcher.js';
import { WebhookQueue } from '../sinks/webhook/queue.js';
import { emptiedFileProblems, emptyFiles } from './reload-guard.js';
import { Supervisor } from './supervisor.js';
import { watchConfig, type ConfigWatcher } from './watch.js';
import { tuneHeap } from './heap.js';

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
}

export type ReloadTrigger = 'watch' | 'signal' | 'api' | 'manual';

export interface ReloadResult {
  status: 'applied' | 'unchanged' | 'invalid' | 'failed';
  /** `startup`: the config the daemon started with. */
  trigger: ReloadTrigger | 'startup';
  at: string;
  hash: string | null;
  changes: EntityChange[];
  restartRequired: EntityChange[];
  problems: Problem[];
  error?: string;
}

export class Daemon {
  readonly log: Logger;
  readonly metrics: Metrics = createMetrics();
  readonly http: HttpServer;
  snapshot: Snapshot | null = null;
  store: TicketStore | null = null;
  outbox: Outbox | null = null;
  parser: ParsePool | null = null;
  supervisor: Supervisor | null = null;
  webhookQueue: WebhookQueue | null = null;
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
  private running: { listen: Snapshot['server']['listen']; store: Snapshot['store'] } | null = null;

  constructor(private opts: DaemonOptions) {
    this.log = opts.logger ?? createLogger();
    this.http = new HttpServer(this.log);
    registerOpsRoutes(this);
    registerMessageRoutes(this);
    registerWebhookRoutes(this);
    registerTicketRoutes(this);
    registerMailboxRoutes(this);
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
    this.running = { listen, store: snapshot.store };
    tuneHeap();
    await this.http.listen(listen.host, listen.port);
    this.store = await openTicketStore(snapshot.store.path);
    // One suspension state for both sides of a mailbox: the outbox holds a suspended mailbox's mail.
    const suspensions = await SuspensionStore.open(snapshot.store.path);
    const onSuspendedSender = (id: string, s: SuspensionInfo, sides: { reads: boolean; sends: boolean }) => this.notifyMailbox(id, mailboxSuspendedNotice(id, s, sides));
    this.outbox = await startOutbound(snapshot.store.path, { snapshot: () => this.snapshot, log: this.log, metrics: this.metrics, suspension: { store: suspensions, ...this.opts.suspension, onSuspended: onSuspendedSender, onResumed: (id) => this.oauth?.forget(id) } }, this.opts.outbox);
    const queue = (this.webhookQueue = await WebhookQueue.open(snapshot.store.path, this.store));
    this.webhooks = new WebhookDispatcher({
      queue,
      store: this.store,
      snapshot: () => this.snapshot!,
      log: this.log,
      metrics: this.metrics,
      // A finished delivery releases its gated server action: let that mailbox poll now.
      onFinished: (d) => this.supervisor?.poller(d.mailbox)?.pollNow(),
    });
    const oauth = (this.oauth = new OAuthManager({ storePath: snapshot.store.path, log: this.log, metrics: this.metrics, onExpiring: (id, h) => this.notifyMailbox(id, credentialExpiringNotice(id, h)) }));
    useOAuthManager(oauth);
    this.parser = createParsePool({ ...(this.opts.parseWorkers !== undefined && { size: this.opts.parseWorkers }) });
    this.supervisor = new Supervisor({
      store: this.store,
      parser: this.parser,
      log: this.log,
      metrics: this.metrics,
      snapshot: () => this.snapshot!,
      senderRate: new SenderRate(),
      webhooks: { queue, kick: () => this.webhooks?.kick() },
      actionHeld: (id) => queue.holds(id),
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
    await this.supervisor.apply(snapshot);
    oauth.start(() => this.snapshot, this.opts.oauthSweepMs);
    this.webhooks.start();
    this.markApplied(snapshot);
    this.emptyAtApply = emptyFiles(problems);
    this.lastReload = { status: 'applied', trigger: 'startup', at: new Date().toISOString(), hash: snapshot.hash, changes: [], restartRequired: [], problems };
    if (this.opts.watch !== false) this.watcher = await watchConfig(this.opts.configPath, () => void this.reload('watch'), this.opts.watchDebounceMs);
    this.http.ready = true;
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
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, this.opts.watchSettleMs ?? 250));
        const again = await loadConfig(this.opts.configPath, this.opts);
        const same = again.hash === loaded.hash;
        loaded = again;
        if (same) break;
      }
    }
    const { hash } = loaded;
    const emptied = emptiedFileProblems(loaded.problems, current.files, this.emptyAtApply);
    const snapshot = emptied.length ? null : loaded.snapshot;
    const problems = [...emptied, ...loaded.problems];
    if (hash === current.hash && snapshot) {
      this.log.debug({ trigger }, 'config unchanged');
      const result: ReloadResult = { status: 'unchanged', trigger, at, hash, changes: [], restartRequired: [], problems: [] };
      // Reverting to the running config after a failed reload is a recovery: the running config is
      // the one on disk again, so the failure must stop being reported (gauge, /v1/status).
      if (this.lastReload?.status === 'invalid' || this.lastReload?.status === 'failed') {
        this.markApplied(current);
        this.log.info({ trigger }, 'config back to the running one: last reload failure cleared');
        return this.record(result);
      }
      return result;
    }
    if (!snapshot) {
      for (const p of problems) this.log[p.severity === 'error' ? 'error' : 'warn']({ trigger, problem: formatProblem(p) }, 'config reload rejected');
      this.metrics.configReloadsTotal.inc({ result: 'invalid' });
      this.metrics.configLastReloadSuccessful.set(0);
      return this.record({ status: 'invalid', trigger, at, hash, changes: [], restartRequired: [], problems });
    }
    const changes = diffSnapshots(current, snapshot);
    const restartRequired = changes.filter((c) => c.restartRequired);
    // Keep what needs a restart as it runs, apply the rest: never half-applied.
    const applied: Snapshot = Object.freeze({ ...snapshot, server: { ...snapshot.server, listen: this.running!.listen }, store: this.running!.store });
    try {
      this.snapshot = applied;
      const r = await this.supervisor!.apply(applied);
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
      this.http.ready = false;
      this.log.info('mailroom stopping');
      await this.watcher?.close();
      await this.reloading.catch(() => undefined);
      await this.supervisor?.stop();
      await this.webhooks?.stop();
      await this.webhookQueue?.close();
      await this.parser?.close();
      await this.outbox?.stop();
      await this.oauth?.stop();
      releaseOAuthManager(this.oauth);
      await this.store?.close();
      await this.http.close();
      this.log.info('mailroom stopped');
      this.log.flush?.();
    })();
    return this.stopping;
  }
}
