// Builds the outbound MIME message once, at enqueue: From / Sender / Reply-To per `sendAs`, the
// envelope, mailroom's own Message-ID (`<random>.mailroom@<sender domain>`, recognised by
// src/ingest/classify.ts as our own if it ever comes back), threading headers. The bytes are stored in
// the outbox and sent as they are, so every retry sends the identical message.
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { ResolvedOutbound } from '../config/snapshot.js';
import { OWN_MESSAGE_ID_MARK } from '../ingest/classify.js';
import { checkHeaderText, domainOf, MessageInputError, type Address } from './address.js';
import { senderAddress } from './resolve.js';

export interface AttachmentInput {
  filename: string;
  contentType?: string;
  content: Buffer;
  /** Content-ID for an inline image referenced from the html as cid:... */
  cid?: string;
}

export interface ComposeInput {
  server: ResolvedOutbound;
  kind: 'user' | 'system';
  /** The person a `kind: user` message is sent on behalf of. */
  person?: Address | null;
  to: Address[];
  cc?: Address[];
  bcc?: Address[];
  subject: string;
  text?: string;
  html?: string;
  attachments?: AttachmentInput[];
  /** Message-IDs without <>. */
  inReplyTo?: string | null;
  references?: string[];
  /** Internal headers only (Auto-Submitted ...): never client input. */
  headers?: Record<string, string>;
  date?: Date;
}

export interface Composed {
  raw: Buffer;
  /** without <> */
  messageId: string;
  envelope: { from: string; to: string[] };
  from: Address;
  sender: Address | null;
  replyTo: Address | null;
}

/** Headers, identity and envelope of a message (pure; compose() adds the MIME build). */
export function identities(server: ResolvedOutbound, kind: 'user' | 'system', person: Address | null | undefined) {
  const address = senderAddress(server);
  if (!address) throw new MessageInputError('mailbox', `has no sender address: set from.address for ${server.mailbox ? `mailbox ${server.mailbox}` : 'defaults.outbound'}`);
  const mailbox: Address = { name: server.from.name, address };
  if (kind === 'system' || !person) return { from: mailbox, sender: null, replyTo: null, envelopeFrom: address };
  if (server.sendAs === 'user') {
    const same = person.address.toLowerCase() === address.toLowerCase();
    return { from: person, sender: same ? null : mailbox, replyTo: null, envelopeFrom: address };
  }
  return { from: mailbox, sender: null, replyTo: person, envelopeFrom: address };
}

export function newMessageId(senderAddr: string): string {
  const random = Date.now().toString(36) + randomBytes(10).toString('hex');
  return `${random}${OWN_MESSAGE_ID_MARK}${domainOf(senderAddr) || 'localhost'}`;
}

/** References for a reply: the parent's chain plus the parent, bounded (first + last ones kept). */
export function replyReferences(parentRefs: string[], parentId: string | null, max = 20): string[] {
  const all = [...parentRefs, ...(parentId ? [parentId] : [])].filter((id, i, a) => id && a.indexOf(id) === i && !/[\s<>]/.test(id));
  return all.length <= max ? all : [all[0]!, ...all.slice(all.length - (max - 1))];
}

/** Subject of a ticket message: keeps the customer's subject, ensures the ticket tag is in it. */
export function taggedSubject(subject: string, ticketId: string): string {
  const clean = subject.replace(/\s+/g, ' ').trim();
  return clean.includes(`[${ticketId}]`) ? clean : `${clean} [${ticketId}]`.trim();
}

export function replySubject(original: string): string {
  const s = original.replace(/\s+/g, ' ').trim();
  return /^(re|aw|sv|res|antw)\s*:/i.test(s) ? s : `Re: ${s}`;
}

const fmt = (a: Address) => (a.name ? { name: a.name, address: a.address } : a.address);

export async function compose(input: ComposeInput): Promise<Composed> {
  checkHeaderText('subject', input.subject);
  const id = identities(input.server, input.kind, input.person);
  const cc = input.cc ?? [];
  const bcc = input.bcc ?? [];
  const rcpts = [...new Set([...input.to, ...cc, ...bcc].map((a) => a.address))];
  if (rcpts.length === 0) throw new MessageInputError('to', 'needs at least one recipient');
  const messageId = newMessageId(id.envelopeFrom);
  for (const [k, v] of Object.entries(input.headers ?? {})) checkHeaderText(`header ${k}`, v);
  const attachments = (input.attachments ?? []).map((a, i) => ({
    filename: checkHeaderText(`attachments[${i}].filename`, a.filename, 255),
    content: a.content,
    ...(a.contentType && { contentType: checkHeaderText(`attachments[${i}].contentType`, a.contentType, 255) }),
    ...(a.cid && { cid: checkHeaderText(`attachments[${i}].cid`, a.cid, 255) }),
  }));
  const composer = new MailComposer({
    from: fmt(id.from),
    ...(id.sender && { sender: fmt(id.sender) }),
    ...(id.replyTo && { replyTo: fmt(id.replyTo) }),
    to: input.to.map(fmt),
    ...(cc.length && { cc: cc.map(fmt) }),
    subject: input.subject,
    messageId: `<${messageId}>`,
    date: input.date ?? new Date(),
    ...(input.inReplyTo && { inReplyTo: `<${input.inReplyTo}>` }),
    ...(input.references?.length && { references: input.references.map((r) => `<${r}>`) }),
    ...(input.text !== undefined || input.html === undefined ? { text: input.text ?? '' } : {}),
    ...(input.html !== undefined && { html: input.html }),
    ...(attachments.length && { attachments }),
    headers: input.headers ?? {},
    // Client input never makes us read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
    xMailer: false,
  });
  const raw = await composer.compile().build();
  return { raw, messageId, envelope: { from: id.envelopeFrom, to: rcpts }, from: id.from, sender: id.sender, replyTo: id.replyTo };
}
