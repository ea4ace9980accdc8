// POST /v1/mailboxes/:id/resume: lift a mailbox's suspension by hand (the fix was made at the provider:
// consent granted again, MFA done). An admin token, or a token scoped to a company of the mailbox;
// a mailbox the token cannot see is 404, as elsewhere in the API.
import type { Daemon } from '../daemon/daemon.js';
import { authenticate, canSee } from './auth.js';
import { sendJson } from './server.js';

export function registerMailboxRoutes(d: Daemon): void {
  d.http.on('POST', '/v1/mailboxes/:id/resume', async (req, res, params) => {
    if (!d.snapshot || !d.supervisor) return sendJson(res, 503, { error: 'not started' });
    const who = await authenticate(req, d.snapshot);
    if (!who) return sendJson(res, 401, { error: 'missing or invalid bearer token' }, { 'www-authenticate': 'Bearer' });
    const id = params.id ?? '';
    const mb = d.snapshot.mailboxes[id];
    if (!mb || !(who.companies === '*' || mb.owners.some((o) => canSee(who, o.company)))) return sendJson(res, 404, { error: `mailbox ${id} not found` });
    const r = await d.supervisor.resume(id);
    if (r === 'not-running') return sendJson(res, 409, { error: `mailbox ${id} is not being read (disabled, or no inbound side)` });
    if (r === 'not-suspended') return sendJson(res, 409, { error: `mailbox ${id} is not suspended` });
    d.log.info({ mailbox: id, by: who.name }, 'mailbox resumed through the API');
    const status = d.supervisor.statuses().find((s) => s.mailbox === id);
    sendJson(res, 200, { mailbox: id, resumed: true, state: status?.state ?? null });
  });
}
