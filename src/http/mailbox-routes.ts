// POST /v1/mailboxes/:id/resume: lift a mailbox's suspension by hand (the fix was made at the provider:
// consent granted again, MFA done). An admin token, or a token scoped to a company of the mailbox;
// a mailbox the token cannot see is 404, as elsewhere in the API. A mailbox that only sends (and
// `default`, the global default server, admin tokens only) is resumed on the outbox's side; one
// suspension covers both sides of a mailbox, so resuming either side resumes both.
import type { DaemonHost } from './host.js';
import { own } from '../config/id-map.js';
import { companiesOf } from '../config/mailbox-ownership.js';
import { authenticate, canSee } from './auth.js';
import { sendJson } from './server.js';

export function registerMailboxRoutes(d: DaemonHost): void {
  d.http.on('POST', '/v1/mailboxes/:id/resume', async (req, res, params) => {
    const snap = d.snapshot;
    if (!snap || !d.supervisor) return sendJson(res, 503, { error: 'not started' });
    const who = await authenticate(req, snap);
    if (!who) return sendJson(res, 401, { error: 'missing or invalid bearer token' }, { 'www-authenticate': 'Bearer' });
    const id = params.id ?? '';
    const mb = own(snap.mailboxes, id);
    const known = mb ? who.companies === '*' || companiesOf(snap, id).some((c) => canSee(who, c)) : id === 'default' && snap.defaultOutbound !== null && who.companies === '*';
    if (!known) return sendJson(res, 404, { error: `mailbox ${id} not found` });
    const r = mb ? await d.supervisor.resume(id) : 'not-running';
    const senders = d.outbox?.suspensions ?? null;
    const resumed = r === 'resumed' || ((await senders?.resume(id, 'resumed through the API')) ?? false);
    if (!resumed) return sendJson(res, 409, { error: `mailbox ${id} is not suspended` });
    d.log.info({ mailbox: id, by: who.name }, 'mailbox resumed through the API');
    const status = d.supervisor.statuses().find((s) => s.mailbox === id) ?? (senders && senders.statuses(snap).find((s) => s.mailbox === id));
    sendJson(res, 200, { mailbox: id, resumed: true, state: status?.state ?? null });
  });
}
