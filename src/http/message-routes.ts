// The outbound message API: POST /v1/messages (202 once durable in the outbox), GET /v1/messages/:id
// (queued / sending / sent with the server's reply / retrying / failed), POST /v1/tickets/:id/reply.
// Bearer tokens are company-scoped: a message of a company outside the scope is 403 to send and 404
// to read (its existence is not revealed). An optional Idempotency-Key header makes a retried POST
// return the first message instead of queueing a second one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { own } from '../config/id-map.js';
import type { Snapshot } from '../config/snapshot.js';
import type { Logger } from '../observability/logger.js';
import { toReplyBody, toSubmitInput, validateMessageBody, validateReplyBody, type FieldProblem } from '../outbound/message-request.js';
import type { Outbox } from '../outbound/outbox.js';
import { foreignMailbox, resolveSenderCached } from '../outbound/resolve.js';
import { companyMailboxes, senderRequest, submitMessage, SubmitError, type SubmitInput } from '../outbound/submit.js';
import { ticketReply } from '../outbound/ticket-reply.js';
import type { TicketPort } from '../store/port.js';
import type { OutboxEntry } from '../store/outbox-types.js';
import { authenticate, canSee, type Principal } from './auth.js';
import { readBody, sendJson, type HttpServer } from './server.js';

/** What the routes need from the daemon (the Daemon fits). */
export interface MessageRoutesHost {
  readonly http: HttpServer;
  readonly snapshot: Snapshot | null;
  readonly stores: { readonly tickets: Pick<TicketPort, 'get'> } | null;
  readonly outbox: Outbox | null;
  readonly log: Logger;
}

export const MESSAGE_BODY_LIMIT = 10 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
  }
}

export function messageView(e: OutboxEntry) {
  return {
    id: e.id,
    status: e.status,
    purpose: e.purpose,
    company: e.company,
    mailbox: e.mailbox ?? 'default',
    ticket: e.ticket,
    messageId: e.messageId,
    subject: e.subject,
    from: e.envelope.from,
    pending: e.envelope.to,
    accepted: e.accepted,
    rejected: e.rejected,
    attempts: e.attempts,
    nextAttemptAt: e.status === 'retrying' || e.status === 'queued' ? e.nextAttemptAt : null,
    response: e.response,
    ...(e.status === 'sent' && { confirmed: e.confirmed !== false }),
    possibleDuplicate: e.possibleDuplicate,
    lastError: e.lastError,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    sentAt: e.sentAt,
    failedAt: e.failedAt,
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const ct = (req.headers['content-type'] ?? '').toLowerCase().split(';')[0]!.trim();
  if (ct !== 'application/json') throw new HttpError(415, 'request body must be application/json');
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MESSAGE_BODY_LIMIT) throw new HttpError(413, `request body too large (limit ${MESSAGE_BODY_LIMIT} bytes)`);
  let buf: Buffer;
  try {
    buf = await readBody(req, MESSAGE_BODY_LIMIT);
  } catch (e) {
    if ((e as { status?: number }).status === 413) throw new HttpError(413, `request body too large (limit ${MESSAGE_BODY_LIMIT} bytes)`);
    throw e;
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf));
  } catch {
    throw new HttpError(400, 'request body is not valid UTF-8 JSON');
  }
}

function idempotencyKey(req: IncomingMessage): string | null {
  const v = req.headers['idempotency-key'];
  if (v === undefined) return null;
  if (typeof v !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(v)) throw new HttpError(400, 'Idempotency-Key must be 1-200 printable ASCII characters');
  return v;
}

export function registerMessageRoutes(d: MessageRoutesHost): void {
  const guard =
    (fn: (req: IncomingMessage, res: ServerResponse, who: Principal, snap: Snapshot, outbox: Outbox, params: Record<string, string>) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
      try {
        const snap = d.snapshot;
        if (!snap) throw new HttpError(503, 'not started');
        const who = await authenticate(req, snap);
        if (!who) return sendJson(res, 401, { error: 'missing or invalid bearer token' }, { 'www-authenticate': 'Bearer' });
        if (!d.outbox || d.outbox.store.broken !== null) throw new HttpError(503, 'outbox is not available');
        await fn(req, res, who, snap, d.outbox, params);
      } catch (e) {
        if (e instanceof HttpError) return sendJson(res, e.status, e.details.length ? { error: e.message, details: e.details } : { error: e.message });
        if (e instanceof SubmitError) return sendJson(res, e.status, { error: e.message, ...(e.field && { details: [{ field: e.field, message: e.message }] }) });
        if ((e as { status?: number }).status === 503) return sendJson(res, 503, { error: (e as Error).message });
        throw e;
      }
    };

  const accept = async (res: ServerResponse, who: Principal, outbox: Outbox, snap: Snapshot, input: SubmitInput) => {
    checkSender(who, snap, input);
    const { entry, duplicate } = await submitMessage(outbox, snap, input);
    d.log.info({ id: entry.id, company: entry.company, mailbox: entry.mailbox ?? 'default', purpose: entry.purpose, ticket: entry.ticket, duplicate }, 'outbound message accepted');
    sendJson(res, 202, { id: entry.id, status: entry.status, messageId: entry.messageId, mailbox: entry.mailbox ?? 'default' }, { location: `/v1/messages/${entry.id}`, ...(duplicate && { 'idempotent-replayed': 'true' }) });
  };

  /** A company-scoped token names only its company's mailboxes (a '*' token any). */
  const checkMailbox = (who: Principal, snap: Snapshot, company: string, mailbox: string | undefined) => {
    if (mailbox === undefined || who.companies === '*' || !own(snap.mailboxes, mailbox)) return;
    if (!companyMailboxes(snap, company).has(mailbox)) throw new HttpError(403, `mailbox ${mailbox} is not a mailbox of company ${company}`);
  };

  /**
   * Whatever layer picked it (a workflow, the contract, the company), the mailbox a scoped token's
   * message leaves through must be one its company may use: acme's token with a workflow naming
   * beta's mailbox would otherwise send as beta, with beta's credentials.
   */
  const checkSender = (who: Principal, snap: Snapshot, input: SubmitInput) => {
    if (who.companies === '*' || input.company === null) return;
    const why = foreignMailbox(snap, input.company, resolveSenderCached(snap, senderRequest(input)).decision);
    if (why) throw new HttpError(403, why);
  };

  const loadTicket = async (id: string, who: Principal) => {
    const t = d.stores ? await d.stores.tickets.get(id) : null;
    if (!t || !canSee(who, t.company)) throw new HttpError(404, `ticket ${id} not found`);
    return t;
  };

  d.http.on(
    'POST',
    '/v1/messages',
    guard(async (req, res, who, snap, outbox) => {
      const key = idempotencyKey(req);
      const v = validateMessageBody(await readJson(req));
      if (!v.ok) throw new HttpError(400, `invalid request body: ${v.problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, v.problems);
      const b = v.value;
      if (!canSee(who, b.company)) throw new HttpError(403, `this token may not send for company ${b.company}`);
      checkMailbox(who, snap, b.company, b.mailbox);
      if (!b.ticket) return accept(res, who, outbox, snap, toSubmitInput(b, key));
      const t = await loadTicket(b.ticket, who);
      if (t.company !== b.company) throw new HttpError(422, `ticket ${b.ticket} is not a ticket of company ${b.company}`);
      if (b.contract !== undefined && b.contract !== t.contract) throw new HttpError(422, `ticket ${b.ticket} belongs to contract ${t.contract ?? '(none)'}`);
      await accept(res, who, outbox, snap, ticketReply(snap, t, toReplyBody(b), key));
    }),
  );

  d.http.on(
    'GET',
    '/v1/messages/:id',
    guard(async (_req, res, who, _snap, outbox, params) => {
      const e = await outbox.find(params.id ?? '');
      if (!e || (e.company === null ? who.companies !== '*' : !canSee(who, e.company))) throw new HttpError(404, 'message not found');
      sendJson(res, 200, messageView(e));
    }),
  );

  d.http.on(
    'POST',
    '/v1/tickets/:id/reply',
    guard(async (req, res, who, snap, outbox, params) => {
      const key = idempotencyKey(req);
      const v = validateReplyBody(await readJson(req));
      if (!v.ok) throw new HttpError(400, `invalid request body: ${v.problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, v.problems);
      const t = await loadTicket(params.id ?? '', who);
      checkMailbox(who, snap, t.company, v.value.mailbox);
      await accept(res, who, outbox, snap, ticketReply(snap, t, v.value, key));
    }),
  );
}
