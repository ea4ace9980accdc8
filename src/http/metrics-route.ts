// GET /metrics, on the main listener or on its own (server.metricsListen), answered to anyone or
// only to an admin bearer token (server.metricsAuth: token). The metrics name every mailbox, company
// and webhook id: a deployment that exposes the main listener can keep them to Prometheus.
// The token is one of server.apiTokens with companies ["*"]: no second secret to rotate, and the
// scope matches what the metrics show (every company).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Snapshot } from '../config/snapshot.js';
import type { Metrics } from '../observability/metrics.js';
import { authenticate } from './auth.js';
import { sendJson, type HttpServer } from './server.js';

export interface MetricsHost {
  readonly snapshot: Snapshot | null;
  readonly metrics: Metrics;
}

/** Who may read /metrics on this listener: null = serve, else the refusal (status, body, headers). Pure but for the token check. */
export async function metricsRefusal(req: IncomingMessage, snap: Snapshot | null, where: 'main' | 'metrics'): Promise<[number, string, Record<string, string>?] | null> {
  if (where === 'main' && snap?.server.metricsListen) return [404, 'not found: /metrics is served on server.metricsListen'];
  if (!snap || snap.server.metricsAuth !== 'token') return null;
  const who = await authenticate(req, snap);
  if (!who) return [401, 'missing or invalid bearer token (server.metricsAuth: token)', { 'www-authenticate': 'Bearer' }];
  if (who.companies !== '*') return [403, 'metrics need a token with companies ["*"]'];
  return null;
}

export function registerMetricsRoute(http: HttpServer, d: MetricsHost, where: 'main' | 'metrics'): void {
  http.on('GET', '/metrics', async (req: IncomingMessage, res: ServerResponse) => {
    const refused = await metricsRefusal(req, d.snapshot, where);
    if (refused) return sendJson(res, refused[0], { error: refused[1] }, refused[2]);
    const body = await d.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': d.metrics.registry.contentType });
    res.end(body);
  });
}
