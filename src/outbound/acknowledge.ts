// Acknowledgements: "we received your request [ACME-000123]", sent when a ticket is created, through
// the contract's mailbox, with `Auto-Submitted: auto-replied` (RFC 3834) and threading headers, so
// the customer's answer threads back onto the ticket. Never to auto-replies, bounces, bulk or list
// mail, loops, our own messages or no-reply addresses; at most ACK_PER_SENDER_PER_HOUR per sender
// and ACK_PER_MAILBOX_PER_HOUR per inbound mailbox.
// The ingest pipeline calls acknowledge() after the commit that created the ticket.
import type { Snapshot } from '../config/snapshot.js';
import { classifyMessage, SenderRate } from '../ingest/classify.js';
import type { ParsedMessage } from '../ingest/parsed-message.js';
import { renderTemplate } from '../ingest/template.js';
import type { Logger } from '../observability/logger.js';
import { isValidEmail } from './address.js';
import { replyReferences, taggedSubject } from './compose.js';
import type { Outbox } from './outbox.js';
import { ticketMailbox } from './resolve.js';
import { submitMessage, SubmitError } from './submit.js';

export const ACK_PER_SENDER_PER_HOUR = 5;
/** Per inbound mailbox, whatever the senders: a flood of forged distinct senders (each under the
 * per-sender cap) must not make a mailbox send backscatter without end. */
export const ACK_PER_MAILBOX_PER_HOUR = 100;

/** What acknowledge() needs from the daemon (the Daemon itself fits). */
export interface AcknowledgeContext {
  readonly snapshot: Snapshot | null;
  readonly outbox: Outbox | null;
  readonly log: Logger;
  /** Override of ACK_PER_MAILBOX_PER_HOUR (tests). */
  readonly ackPerMailboxPerHour?: number;
}

export interface AcknowledgeInput {
  ticketId: string;
  company: string;
  contract: string | null;
  /** The inbound mailbox the message arrived in. */
  mailbox: string;
  parsed: ParsedMessage;
  /** The article's flags (classify flags, 'dropped:...'), plus the new ticket's status when it is not open ('held', 'rejected'). */
  flags: string[];
}

export type AcknowledgeResult = { status: 'queued'; id: string } | { status: 'skipped'; reason: string };

/** Flags that rule an acknowledgement out, most specific first (a bounce is also auto-submitted). */
const NEVER = ['bounce', 'loop', 'own-message', 'auto-reply', 'list', 'bulk', 'held', 'rejected'];
const NO_REPLY = /^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?|notifications?)([+._-].*)?@/i;
const rates = new WeakMap<object, SenderRate>();
const mailboxRates = new WeakMap<object, SenderRate>();

/** Pure: should this message get an acknowledgement, and to whom? */
export function ackDecision(snap: Snapshot, input: AcknowledgeInput): { to: string } | { skip: string } {
  const company = snap.companies[input.company];
  const contract = input.contract ? company?.contracts[input.contract] : undefined;
  const cfg = contract?.acknowledge ?? company?.acknowledge ?? null;
  if (!cfg) return { skip: 'not-configured' };
  if (cfg.enabled === false) return { skip: 'disabled' };
  const flags = new Set([...input.flags, ...classifyMessage(input.parsed)]);
  const never = NEVER.find((f) => flags.has(f)) ?? ([...flags].some((f) => f.startsWith('dropped')) ? 'dropped' : null);
  if (never) return { skip: never };
  if ((input.parsed.headers['return-path'] ?? []).some((v) => v.trim() === '<>')) return { skip: 'bounce' };
  const to = (input.parsed.replyTo[0]?.address || input.parsed.from?.address || '').trim();
  if (!to || !isValidEmail(to)) return { skip: 'no-sender-address' };
  if (NO_REPLY.test(to)) return { skip: 'no-reply-address' };
  const own = new Set<string>();
  for (const mb of Object.values(snap.mailboxes)) {
    if (mb.address) own.add(mb.address.toLowerCase());
    if (mb.outbound?.from.address) own.add(mb.outbound.from.address.toLowerCase());
  }
  if (snap.defaultOutbound?.from.address) own.add(snap.defaultOutbound.from.address.toLowerCase());
  if (own.has(to.toLowerCase())) return { skip: 'own-address' };
  return { to };
}

export async function acknowledge(ctx: AcknowledgeContext, input: AcknowledgeInput): Promise<AcknowledgeResult> {
  const snap = ctx.snapshot;
  if (!snap || !ctx.outbox) return { status: 'skipped', reason: 'not-running' };
  const d = ackDecision(snap, input);
  if ('skip' in d) return { status: 'skipped', reason: d.skip };
  const company = snap.companies[input.company]!;
  const contract = input.contract ? company.contracts[input.contract] : undefined;
  const cfg = (contract?.acknowledge ?? company.acknowledge)!;
  // Per outbox (one per daemon), so the cap holds across calls.
  let rate = rates.get(ctx.outbox);
  if (!rate) rates.set(ctx.outbox, (rate = new SenderRate()));
  if (rate.hit(d.to, ACK_PER_SENDER_PER_HOUR)) return { status: 'skipped', reason: 'rate-capped' };
  let perMailbox = mailboxRates.get(ctx.outbox);
  if (!perMailbox) mailboxRates.set(ctx.outbox, (perMailbox = new SenderRate()));
  if (perMailbox.hit(input.mailbox, ctx.ackPerMailboxPerHour ?? ACK_PER_MAILBOX_PER_HOUR)) {
    ctx.log.warn({ mailbox: input.mailbox, ticket: input.ticketId }, 'acknowledgement not sent: the mailbox is over its hourly cap');
    return { status: 'skipped', reason: 'mailbox-rate-capped' };
  }

  const tctx = { mailbox: input.mailbox, message: input.parsed, ticket: { id: input.ticketId, company: input.company, contract: input.contract } };
  const subject = taggedSubject(renderTemplate(cfg.subject, tctx).replace(/[\r\n\t]+/g, ' '), input.ticketId);
  // The contract's outbound mailbox; without one, the mailbox the request came in on when it can send
  // (the same rule as a reply to the ticket: ticketMailbox).
  const via = ticketMailbox(snap, input.company, input.contract, input.mailbox);
  try {
    const { entry } = await submitMessage(ctx.outbox, snap, {
      purpose: 'acknowledgement',
      company: input.company,
      ...(input.contract && { contract: input.contract }),
      ...(via && { mailbox: via }),
      kind: 'user',
      to: [d.to],
      subject,
      text: renderTemplate(cfg.text, tctx),
      ticket: input.ticketId,
      inReplyTo: input.parsed.messageId,
      references: replyReferences(input.parsed.references, input.parsed.messageId),
      headers: { 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All' },
    });
    ctx.log.info({ id: entry.id, ticket: input.ticketId, mailbox: entry.mailbox ?? 'default' }, 'acknowledgement queued');
    return { status: 'queued', id: entry.id };
  } catch (e) {
    if (e instanceof SubmitError) {
      ctx.log.warn({ ticket: input.ticketId, error: e.message }, 'acknowledgement not sent');
      return { status: 'skipped', reason: `invalid: ${e.message}` };
    }
    throw e;
  }
}
