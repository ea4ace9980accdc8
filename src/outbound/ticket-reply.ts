// A reply to a ticket (`ticket` in POST /v1/messages, or POST /v1/tickets/:id/reply): through the
// ticket's contract mailbox (without one, the mailbox the ticket came in on when it can send, as the
// acknowledgement does: resolve.ts ticketMailbox), to the customer unless told otherwise, with In-Reply-To / References of
// the ticket's latest message and the ticket tag in the subject, so the answer threads back (by
// References first, by [ACME-000123] when a client drops them: see src/ingest/thread.ts).
import addressparser from 'nodemailer/lib/addressparser';
import type { Snapshot } from '../config/snapshot.js';
import type { Ticket } from '../store/types.js';
import { checkHeaderText, MessageInputError, type AddressInput } from './address.js';
import { replyReferences, replySubject, taggedSubject } from './compose.js';
import { ticketMailbox } from './resolve.js';
import { SubmitError, type SubmitInput } from './submit.js';

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

/** The caller's subject, checked as /v1/messages checks one: 400 for CR/LF or control characters. */
function checkedSubject(subject: string): string {
  try {
    return checkHeaderText('subject', subject);
  } catch (e) {
    if (e instanceof MessageInputError) throw new SubmitError(400, e.message, e.field);
    throw e;
  }
}

/** Pure: the SubmitInput of a reply to `ticket`. */
export function ticketReply(snap: Snapshot, ticket: Ticket, body: ReplyBody, idempotencyKey: string | null): SubmitInput {
  // Checked before tagging: taggedSubject folds whitespace, so a CR/LF would become a space and be sent.
  if (body.subject !== undefined) checkedSubject(body.subject);
  const withId = [...ticket.articles].reverse().find((a) => a.messageId);
  const to = body.to && body.to.length > 0 ? body.to : [customerOf(ticket)].filter((a): a is AddressInput => a !== null);
  const subject = taggedSubject(body.subject ?? replySubject(ticket.subject || '(no subject)'), ticket.id);
  const mailbox = body.mailbox ?? ticketMailbox(snap, ticket.company, ticket.contract, ticket.articles[0]?.mailbox ?? null);
  return {
    purpose: 'reply',
    company: ticket.company,
    ...(ticket.contract && { contract: ticket.contract }),
    ...(mailbox && { mailbox }),
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
