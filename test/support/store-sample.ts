// Why this file exists: realistic CommitItem builders shared by the store's tests and
// bench/store.ts, so both exercise the same shapes the pollers produce. Not used at runtime.
import type { ArticleInput, CommitItem, TicketInput } from '../../src/store/types.js';

export interface SampleOptions {
  company?: string;
  prefix?: string;
  mailbox?: string;
  /** IMAP uid (key 'imap:<mailbox>:<uidValidity>:<uid>') unless uidl is given */
  uid?: number;
  uidValidity?: number;
  /** POP3 UIDL (key 'pop3:<mailbox>:<uidl>') */
  uidl?: string;
  messageId?: string | null;
  inReplyTo?: string[];
  references?: string[];
  subject?: string;
  textBytes?: number;
  extraKeys?: string[];
  status?: TicketInput['status'];
  contract?: string | null;
  threadTo?: string;
  action?: 'keep' | 'seen' | 'move' | 'delete';
  checkpoint?: boolean;
}

const LOREM =
  'Hello team, our order did not arrive and the tracking page shows no update since Monday. ' +
  'Could you please check with the carrier and let us know? Invoice number is in the attachment. ';

export function sampleArticle(o: SampleOptions = {}): ArticleInput {
  const company = o.company ?? 'acme';
  const mailbox = o.mailbox ?? 'support';
  const keys: string[] = [];
  if (o.uidl !== undefined) keys.push(`pop3:${mailbox}:${o.uidl}`);
  else keys.push(`imap:${mailbox}:${o.uidValidity ?? 1}:${o.uid ?? 1}`);
  const mid = o.messageId === undefined ? `<m${o.uidl ?? o.uid ?? 1}.${mailbox}@example.com>` : o.messageId;
  if (mid) keys.push(`mid:${company}:${mid}`);
  keys.push(...(o.extraKeys ?? []));
  const textBytes = o.textBytes ?? 600;
  const text = LOREM.repeat(Math.ceil(textBytes / LOREM.length)).slice(0, textBytes);
  return {
    dedupeKeys: keys,
    mailbox,
    receivedAt: new Date().toISOString(),
    serverDate: new Date().toUTCString(),
    messageId: mid,
    inReplyTo: o.inReplyTo ?? [],
    references: o.references ?? [],
    subject: o.subject ?? `Order problem ${o.uidl ?? o.uid ?? 1}`,
    from: { name: 'Jane Customer', address: 'jane@customer.example' },
    to: [{ name: 'ACME Support', address: `${mailbox}@acme.example` }],
    cc: [],
    headers: {
      'message-id': mid ? [mid] : [],
      'content-type': ['text/plain; charset=utf-8'],
      received: ['from mx.customer.example by mx.acme.example; Mon, 1 Jan 2024 10:00:00 +0000'],
      'x-mailer': ['Example Mail 1.0'],
    },
    text,
    html: null,
    attachments: [],
    rawRef: null,
    size: text.length + 600,
    flags: [],
  };
}

export function sampleItem(o: SampleOptions = {}): CommitItem {
  const company = o.company ?? 'acme';
  const mailbox = o.mailbox ?? 'support';
  const item: CommitItem = {
    article: sampleArticle(o),
    ticket: { company, contract: o.contract ?? null, status: o.status ?? 'open', prefix: o.prefix ?? 'ACME' },
  };
  if (o.threadTo !== undefined) item.threadTo = o.threadTo;
  const action = o.action ?? 'seen';
  if (o.uidl !== undefined) {
    item.afterFetch = { mailbox, kind: 'pop3', uidl: o.uidl, action };
    item.pop3Uidl = { mailbox, uidl: o.uidl };
  } else {
    const uid = o.uid ?? 1;
    const uidValidity = o.uidValidity ?? 1;
    item.afterFetch = { mailbox, kind: 'imap', folder: 'INBOX', uidValidity, uid, action, ...(action === 'move' ? { moveTo: 'Done' } : {}) };
    if (o.checkpoint !== false) item.checkpoint = { mailbox, folder: 'INBOX', uidValidity, uid };
  }
  return item;
}
