// Why this file exists: what the HTTP routes need from the running daemon, as an interface (the
// Daemon fits it), so that http/ never imports daemon/ (no import cycle) and a route's reach is
// visible in one place.
import type { LeaseCoordinator } from '../cluster/coordinator.js';
import type { ReloadResult, ReloadTrigger } from '../daemon/reload-types.js';
import type { Supervisor } from '../daemon/supervisor.js';
import type { Snapshot } from '../config/snapshot.js';
import type { EntityChange } from '../config/diff.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Outbox } from '../outbound/outbox.js';
import type { WebhookDispatcher } from '../sinks/webhook/dispatcher.js';
import type { Stores } from '../store/port.js';
import type { HttpServer } from './server.js';

export interface DaemonHost {
  readonly http: HttpServer;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly snapshot: Snapshot | null;
  readonly stores: Stores | null;
  readonly supervisor: Supervisor | null;
  readonly outbox: Outbox | null;
  readonly webhooks: WebhookDispatcher | null;
  readonly coordinator: LeaseCoordinator | null;
  readonly replicaId: string;
  readonly lastReload: ReloadResult | null;
  readonly pendingRestart: EntityChange[];
  reload(trigger: ReloadTrigger): Promise<ReloadResult>;
}
