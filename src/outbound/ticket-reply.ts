// A reply to a ticket (`ticket` in POST /v1/messages, or POST /v1/tickets/:id/reply): through the
// ticket's contract mailbox, to the customer unless told otherwise, with In-Reply-To / References of
// the ticket's latest message and the ticket tag in the subject, so the answer threads back (by
// References first, by [ACME-000123] when a client drops them: see src/ingest/thread.ts).
import addressparser from 'nodemailer/lib/addressparser';
import type { Ticket } from '../store/types.js';
import type { AddressInput } from './address.js';
import { replyReferences, replySubject, taggedSubject } from './compose.js';
import type { SubmitInput } from './submit.js';

export interface ReplyBody {
  to?: AddressInput[];
  cc?: AddressInput[];
  bcc?: AddressInput[];
  subject?: string;
  text?: string;
  html?: string;
  from?: AddressInput;
  mailbox?: string;
  kind?: 'user' | 'system';
  attachments?: SubmitInput['attachments'];
}

/** The customer's address: Reply-To of the ticket's first message, else its From. */
export function customerOf(ticket: Ticket): AddressInput | null {
  const first = ticket.articles[0];
  const replyTo = first?.headers['reply-to']?.[0];
  if (replyTo) {
    const parsed = addressparser(replyTo, { flatten: true });
    const a = parsed.find((x) => 'address' in x && x.address);
    if (a && 'address' in a) return { name: a.name ?? '', address: a.address };
  }
  const from = first?.from ?? ticket.from;
  return from?.address ? { name: from.name, address: from.address } : null;
}

/** Pure: the SubmitInput of a reply to `ticket`. */
export function ticketReply(ticket: Ticket, body: ReplyBody, idempotencyKey: string | null): SubmitInput {
  const withId = [...ticket.articles].reverse().find((a) => a.messageId);
  const to = body.to && body.to.length > 0 ? body.to : [customerOf(ticket)].filter((a): a is AddressInput => a !== null);
  const subject = taggedSubject(body.subject ?? replySubject(ticket.subject || '(no subject)'), ticket.id);
  return {
    purpose: 'reply',
    company: ticket.company,
    ...(ticket.contract && { contract: ticket.contract }),
    ...(body.mailbox && { mailbox: body.mailbox }),
    kind: body.kind ?? 'user',
    person: body.from ?? null,
    to,
    ...(body.cc && { cc: body.cc }),
    ...(body.bcc && { bcc: body.bcc }),
    subject,
    ...(body.text !== undefined && { text: body.text }),
    ...(body.html !== undefined && { html: body.html }),
    ...(body.attachments && { attachments: body.attachments }),
    ticket: ticket.id,
    inReplyTo: withId?.messageId ?? null,
    references: withId ? replyReferences(withId.references, withId.messageId) : [],
    idempotencyKey,
  };
}
