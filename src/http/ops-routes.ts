// Operational endpoints: /metrics, POST /-/reload (token with companies ["*"]), GET /v1/status.
// Status lists every mailbox: the pollers' (reading) and, from the outbox, those that only send and
// `default` (state and suspension); admin tokens also see the outbox's depth and dead letters.
import type { DaemonHost } from './host.js';
import { formatProblem } from '../config/problems.js';
import { configSkew } from '../cluster/config-skew.js';
import { outboxSummary, senderHealth } from '../outbound/outbox-summary.js';
import { authenticate, canSee } from './auth.js';
import { registerMetricsRoute } from './metrics-route.js';
import { sendJson } from './server.js';
import { webhookStatus } from './webhook-routes.js';

export function registerOpsRoutes(d: DaemonHost): void {
  const http = d.http;
  registerMetricsRoute(http, d, 'main');

  http.on('POST', '/-/reload', async (req, res) => {
    if (!d.snapshot) return sendJson(res, 503, { error: 'not started' });
    const who = await authenticate(req, d.snapshot);
    if (!who) return sendJson(res, 401, { error: 'missing or invalid bearer token' }, { 'www-authenticate': 'Bearer' });
    if (who.companies !== '*') return sendJson(res, 403, { error: 'reload needs a token with companies ["*"]' });
    const r = await d.reload('api');
    const body = { status: r.status, hash: r.hash, changes: r.changes, restartRequired: r.restartRequired, problems: r.problems.map(formatProblem), ...(r.error && { error: r.error }) };
    sendJson(res, r.status === 'applied' || r.status === 'unchanged' ? 200 : r.status === 'invalid' ? 422 : 500, body);
  });

  http.on('GET', '/v1/status', async (req, res) => {
    if (!d.snapshot) return sendJson(res, 503, { error: 'not started' });
    const who = await authenticate(req, d.snapshot);
    if (!who) return sendJson(res, 401, { error: 'missing or invalid bearer token' }, { 'www-authenticate': 'Bearer' });
    const health = d.outbox ? senderHealth(d.outbox.store.entries()) : new Map();
    const senders = (d.outbox?.suspensions?.statuses(d.snapshot) ?? []).map((s) => {
      const h = health.get(s.mailbox);
      if (!h) return s;
      return { ...s, ...(s.state === 'idle' && h.retrying > 0 && { state: 'backoff' }), backlog: h.backlog, lastError: h.lastError };
    });
    const all = [...(d.supervisor?.statuses() ?? []), ...senders].sort((a, b) => a.mailbox.localeCompare(b.mailbox));
    const mailboxes = all.filter((s) => who.companies === '*' || s.companies.some((c) => canSee(who, c)));
    const r = d.lastReload;
    // Config file names and problems name other tenants' files and ids: admin tokens only.
    const admin = who.companies === '*';
    sendJson(res, 200, {
      ready: d.http.isReady,
      ...(d.http.unready !== null && { notReady: d.http.unready }),
      config: {
        hash: d.snapshot.hash,
        ...(admin && { files: d.snapshot.files }),
        lastReload: r && { status: r.status, trigger: r.trigger, at: r.at, hash: r.hash, ...(admin && { problems: r.problems.map(formatProblem), ...(r.error && { error: r.error }) }) },
        ...(admin && { restartRequired: d.pendingRestart.map((c) => `${c.kind} ${c.id}`) }),
      },
      mailboxes,
      webhooks: who.companies === '*' ? await webhookStatus(d) : undefined,
      store: who.companies === '*' ? await d.stores?.tickets.stats() : undefined,
      outbox: who.companies === '*' && d.outbox ? outboxSummary(d.outbox.store.entries()) : undefined,
      // Several replicas on one store: who is alive (and on which config), which mailbox each polls.
      cluster:
        admin && d.coordinator
          ? {
              self: d.replicaId,
              members: d.coordinator.members.map((m) => ({ id: m.id, configHash: m.configHash, startedAt: m.startedAt })),
              configSkew: configSkew(d.coordinator.members),
              owners: Object.fromEntries(d.coordinator.owners),
            }
          : undefined,
    });
  });
}
