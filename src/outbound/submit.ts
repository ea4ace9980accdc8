// From a request to a durable outbox entry: check that the company / contract / workflow / mailbox
// exist, pick the sender with the resolver, validate every address and header, build the message,
// enqueue it. Used by the API (message-routes.ts), ticket replies, acknowledgements and notifications.
import { createHash } from 'node:crypto';
import { own } from '../config/id-map.js';
import { companyMailboxes } from '../config/mailbox-ownership.js';
import type { Snapshot } from '../config/snapshot.js';
import type { OutboxEntry, OutboxPurpose } from '../store/outbox-types.js';
import { checkAddress, checkAddresses, checkHeaderText, MessageInputError, type AddressInput } from './address.js';
import { compose, type AttachmentInput } from './compose.js';
import type { Outbox } from './outbox.js';
import { resolveSenderCached, type OutboundRequest } from './resolve.js';

export interface SubmitInput {
  purpose: OutboxPurpose;
  company: string | null;
  contract?: string;
  workflow?: string;
  mailbox?: string;
  kind: 'user' | 'system';
  /** The person a user message is sent on behalf of (From or Reply-To, per sendAs). */
  person?: AddressInput | null;
  to: AddressInput[];
  cc?: AddressInput[];
  bcc?: AddressInput[];
  subject: string;
  text?: string;
  html?: string;
  attachments?: AttachmentInput[];
  ticket?: string | null;
  inReplyTo?: string | null;
  references?: string[];
  /** Internal headers (Auto-Submitted ...), never from a client. */
  headers?: Record<string, string>;
  idempotencyKey?: string | null;
  /** set by submitMessage for a keyed request (see requestHash) */
  requestHash?: string;
}

/** What an Idempotency-Key stands for: the request without the key itself. */
export function requestHash(input: SubmitInput): string {
  const { idempotencyKey: _k, requestHash: _h, attachments, ...rest } = input;
  const h = createHash('sha256').update(JSON.stringify(rest));
  // attachment bytes hashed as they are (JSON.stringify would spell a Buffer out as a number array)
  for (const a of attachments ?? []) h.update(JSON.stringify({ ...a, content: a.content.length })).update(a.content);
  return h.digest('hex');
}

/** A request mailroom will not queue: the HTTP status and a message naming the field. */
export class SubmitError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'SubmitError';
  }
}


/** What the resolver is asked for a submission (the same request submitOnce resolves). */
export function senderRequest(input: Pick<SubmitInput, 'company' | 'contract' | 'workflow' | 'mailbox' | 'kind'>): OutboundRequest & { kind: 'user' | 'system' } {
  return {
    ...(input.company !== null && { company: input.company }),
    ...(input.contract !== undefined && { contract: input.contract }),
    ...(input.workflow !== undefined && { workflow: input.workflow }),
    ...(input.mailbox !== undefined && { mailbox: input.mailbox }),
    kind: input.kind,
  };
}

/** Submissions in progress per idempotency key, so two concurrent retries of one POST queue one message. */
const inFlight = new WeakMap<Outbox, Map<string, Promise<{ entry: OutboxEntry; duplicate: boolean }>>>();

export async function submitMessage(outbox: Outbox, snap: Snapshot, input: SubmitInput): Promise<{ entry: OutboxEntry; duplicate: boolean }> {
  if (!input.idempotencyKey) return submitOnce(outbox, snap, input);
  const hash = requestHash(input);
  const reused = (e: OutboxEntry) => {
    // The key names one request: sent again with another body, it would silently drop the new one.
    if (e.requestHash && e.requestHash !== hash) throw new SubmitError(422, `Idempotency-Key ${input.idempotencyKey} was already used for a different message`, 'Idempotency-Key');
    return { entry: e, duplicate: true };
  };
  const seen = await outbox.findByIdempotencyKey(input.company, input.idempotencyKey);
  if (seen) return reused(seen);
  let m = inFlight.get(outbox);
  if (!m) inFlight.set(outbox, (m = new Map()));
  const k = `${input.company ?? ''}\0${input.idempotencyKey}`;
  const running = m.get(k);
  if (running) return running.then((r) => reused(r.entry));
  const p = submitOnce(outbox, snap, { ...input, requestHash: hash });
  m.set(k, p);
  try {
    return await p;
  } finally {
    m.delete(k);
  }
}

async function submitOnce(outbox: Outbox, snap: Snapshot, input: SubmitInput): Promise<{ entry: OutboxEntry; duplicate: boolean }> {
  const company = input.company;
  if (company !== null && !own(snap.companies, company)) throw new SubmitError(422, `company ${company} is not configured`, 'company');
  if (input.contract !== undefined) {
    if (company === null || !own(own(snap.companies, company)?.contracts, input.contract)) throw new SubmitError(422, `contract ${input.contract} is not a contract of company ${company}`, 'contract');
  }
  if (input.workflow !== undefined && !own(snap.workflows, input.workflow)) throw new SubmitError(422, `workflow ${input.workflow} is not configured`, 'workflow');
  if (input.mailbox !== undefined) {
    const mb = own(snap.mailboxes, input.mailbox);
    if (!mb) throw new SubmitError(422, `mailbox ${input.mailbox} is not configured`, 'mailbox');
  }
  const request = senderRequest(input);
  const res = resolveSenderCached(snap, request);
  if (!res.server) throw new SubmitError(422, res.decision.mailbox ? `mailbox ${res.decision.mailbox} has no outbound side` : 'no outbound server: configure defaults.outbound, a company outbound or a contract mailbox', 'mailbox');
  if (res.decision.mailbox && snap.mailboxes[res.decision.mailbox]?.enabled === false) throw new SubmitError(422, `mailbox ${res.decision.mailbox} is disabled`, 'mailbox');
  if (input.kind === 'system' && input.person) throw new SubmitError(400, 'from: system mail is not sent on behalf of a person (use kind: user)', 'from');
  if (input.text === undefined && input.html === undefined) throw new SubmitError(400, 'text or html is required', 'text');
  try {
    const composed = await compose({
      server: res.server,
      kind: input.kind,
      person: input.person ? checkAddress('from', input.person) : null,
      to: checkAddresses('to', input.to),
      cc: checkAddresses('cc', input.cc),
      bcc: checkAddresses('bcc', input.bcc),
      subject: checkHeaderText('subject', input.subject),
      ...(input.text !== undefined && { text: input.text }),
      ...(input.html !== undefined && { html: input.html }),
      ...(input.attachments && { attachments: input.attachments }),
      ...(input.inReplyTo && { inReplyTo: input.inReplyTo }),
      ...(input.references && { references: input.references }),
      ...(input.headers && { headers: input.headers }),
    });
    const entry = await outbox.enqueue({
      purpose: input.purpose,
      company,
      request,
      mailbox: res.decision.mailbox,
      ticket: input.ticket ?? null,
      idempotencyKey: input.idempotencyKey ?? null,
      ...(input.requestHash && { requestHash: input.requestHash }),
      subject: input.subject,
      composed,
    });
    return { entry, duplicate: false };
  } catch (e) {
    if (e instanceof MessageInputError) throw new SubmitError(400, e.message, e.field);
    throw e;
  }
}

export { companyMailboxes };
