// The running daemon: loads the config, serves HTTP, runs the supervised parts, stops cleanly.
import { loadConfig, type LoadOptions } from '../config/load.js';
import { formatProblem, type Problem } from '../config/problems.js';
import type { Snapshot } from '../config/snapshot.js';
import { HttpServer } from '../http/server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { createParsePool, type ParsePool } from '../ingest/parse-pool.js';
import type { PollerOptions } from '../inbound/poller.js';
import { openTicketStore, type TicketStore } from '../store/index.js';
import { Supervisor } from './supervisor.js';

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
  /** Worker threads for MIME parsing (default: one per core; 0 = in-process). */
  parseWorkers?: number;
  pollerOptions?: PollerOptions;
}

export class Daemon {
  readonly log: Logger;
  readonly metrics: Metrics = createMetrics();
  readonly http: HttpServer;
  snapshot: Snapshot | null = null;
  private stopping: Promise<void> | null = null;
  store: TicketStore | null = null;
  parser: ParsePool | null = null;
  supervisor: Supervisor | null = null;

  constructor(private opts: DaemonOptions) {
    this.log = opts.logger ?? createLogger();
    this.http = new HttpServer(this.log);
    this.http.on('GET', '/metrics', async (_req, res) => {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(body);
    });
  }

  async start(): Promise<void> {
    const { snapshot, problems } = await loadConfig(this.opts.configPath, this.opts);
    for (const p of problems) this.log[p.severity === 'error' ? 'error' : 'warn']({ problem: formatProblem(p) }, 'config problem');
    if (!snapshot) {
      this.metrics.configLastReloadSuccessful.set(0);
      throw new ConfigInvalidError(problems);
    }
    this.snapshot = snapshot;
    if (!this.opts.logger) this.log.level = snapshot.log.level;
    const listen = this.opts.listen ?? snapshot.server.listen;
    await this.http.listen(listen.host, listen.port);
    this.store = await openTicketStore(snapshot.store.path);
    this.parser = createParsePool({ ...(this.opts.parseWorkers !== undefined && { size: this.opts.parseWorkers }) });
    this.supervisor = new Supervisor({
      store: this.store,
      parser: this.parser,
      log: this.log,
      metrics: this.metrics,
      snapshot: () => this.snapshot!,
      ...(this.opts.pollerOptions && { pollerOptions: this.opts.pollerOptions }),
    });
    await this.supervisor.apply(snapshot);
    this.markApplied(snapshot);
    this.http.ready = true;
    this.log.info({ listen: this.http.address(), hash: snapshot.hash.slice(0, 12), files: snapshot.files.length }, 'mailroom started');
  }

  private markApplied(snapshot: Snapshot): void {
    this.metrics.configLastReloadSuccessful.set(1);
    this.metrics.configLastReloadSuccessTimestamp.set(Date.now() / 1000);
    this.metrics.configInfo.reset();
    this.metrics.configInfo.set({ hash: snapshot.hash.slice(0, 12) }, 1);
  }

  /** Stop taking work, finish in-flight commits, close everything. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.http.ready = false;
      this.log.info('mailroom stopping');
      await this.supervisor?.stop();
      await this.parser?.close();
      await this.store?.close();
      await this.http.close();
      this.log.info('mailroom stopped');
      this.log.flush?.();
    })();
    return this.stopping;
  }
}
