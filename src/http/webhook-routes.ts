// Webhook sink operations: queue depth and dead letters, and redelivery of dead letters.
// Admin only (a token with companies ["*"]): deliveries cross companies.
import type { DaemonHost } from './host.js';
import { own } from '../config/id-map.js';
import { authenticate } from './auth.js';
import { readBody, sendJson } from './server.js';

const REPLAY_BODY_LIMIT = 64 * 1024;

export function registerWebhookRoutes(d: DaemonHost): void {
  const admin = async (req: Parameters<typeof authenticate>[0]) => {
    if (!d.snapshot) return 'not started' as const;
    const who = await authenticate(req, d.snapshot);
    if (!who) return 401;
    return who.companies === '*' ? who : 403;
  };

  d.http.on('GET', '/v1/webhooks', async (req, res) => {
    const who = await admin(req);
    if (typeof who !== 'object') return deny(res, who);
    sendJson(res, 200, { webhooks: await webhookStatus(d, true) });
  });

  d.http.on('POST', '/v1/webhooks/:id/replay', async (req, res, params) => {
    const who = await admin(req);
    if (typeof who !== 'object') return deny(res, who);
    if (!own(d.snapshot?.webhooks, params.id!)) return sendJson(res, 404, { error: `webhook ${params.id} is not configured` });
    let delivery: string | undefined;
    let raw: string;
    try {
      raw = (await readBody(req, REPLAY_BODY_LIMIT)).toString('utf8').trim();
    } catch (e) {
      // The body is {"delivery": "<id>"}: anything over the limit is a client error, not a 500.
      if ((e as { status?: number }).status === 413) return sendJson(res, 413, { error: `request body too large (limit ${REPLAY_BODY_LIMIT} bytes): the body is {"delivery": "<id>"}` }, { connection: 'close' });
      throw e;
    }
    if (raw) {
      try {
        const body = JSON.parse(raw) as Record<string, unknown>;
        // A misspelt field or an empty id must not turn "replay this one" into "replay them all".
        const unknown = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body).filter((k) => k !== 'delivery') : ['(not an object)'];
        if (unknown.length) return sendJson(res, 400, { error: `unknown field ${unknown.join(', ')}: the body is {"delivery": "<id>"}, or empty for all dead letters` });
        if (body.delivery !== undefined && (typeof body.delivery !== 'string' || body.delivery === '')) return sendJson(res, 400, { error: 'delivery must be a non-empty string (a delivery id)' });
        delivery = body.delivery as string | undefined;
      } catch {
        return sendJson(res, 400, { error: 'body must be JSON: {"delivery": "<id>"} or empty for all dead letters' });
      }
    }
    const replayed = (await d.webhooks?.replay({ webhook: params.id!, ...(delivery && { id: delivery }) })) ?? 0;
    if (delivery && replayed === 0) return sendJson(res, 404, { error: `no dead letter ${delivery} for webhook ${params.id}` });
    sendJson(res, 200, { replayed });
  });
}

function deny(res: Parameters<typeof sendJson>[0], why: 'not started' | 401 | 403): void {
  if (why === 'not started') return sendJson(res, 503, { error: 'not started' });
  if (why === 401) return sendJson(res, 401, { error: 'missing or invalid bearer token' }, { 'www-authenticate': 'Bearer' });
  sendJson(res, 403, { error: 'needs a token with companies ["*"]' });
}

/** Per webhook: queue depth, held and blocked deliveries, dead letters (with their last error), for status and the API. */
export async function webhookStatus(d: DaemonHost, withDeadLetters = false): Promise<Record<string, unknown>[]> {
  const q = d.stores?.deliveries;
  const snap = d.snapshot;
  if (!q || !snap) return [];
  const depth = await q.summary();
  const ids = [...new Set([...Object.keys(snap.webhooks), ...depth.keys()])].sort();
  const dead = withDeadLetters ? await q.dead() : [];
  return ids.map((id) => ({
    webhook: id,
    configured: Boolean(own(snap.webhooks, id)),
    pending: depth.get(id)?.pending ?? 0,
    deadLetters: depth.get(id)?.dead ?? 0,
    // Shown only when there are some: held = its ticket awaits approval; blocked = behind a dead letter.
    ...(depth.get(id)?.held && { held: depth.get(id)!.held }),
    ...(depth.get(id)?.blocked && { blocked: depth.get(id)!.blocked }),
    ...(withDeadLetters && {
      dead: dead.filter((x) => x.webhook === id).map((x) => ({ delivery: x.id, ticket: x.ticketId, article: x.articleNo, attempts: x.attempts, lastStatus: x.lastStatus, lastError: x.lastError, finishedAt: x.finishedAt })),
    }),
  }));
}
