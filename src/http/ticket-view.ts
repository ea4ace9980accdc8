// Why this file exists: the store's Ticket carries internals (dedupe keys, blob refs, raw headers,
// id prefix) that must never reach API clients. These views copy an explicit allowlist of fields —
// so a field added to the store later stays private until someone adds it here — and turn blob
// references into download URLs. Attachment ids are positional ("<article>.<index>", e.g. "2.1"):
// unique within a ticket even when two attachments have the same bytes, and not content hashes.
import type { Address, Article, AttachmentRef, Ticket, TicketSummary } from '../store/index.js';
import { safeFilename } from '../ingest/safe-filename.js';

export { safeFilename };

export interface AddressView {
  name: string;
  address: string;
}

export interface TicketSummaryView {
  id: string;
  company: string;
  contract: string | null;
  status: string;
  type: string | null;
  group: string | null;
  priority: string | null;
  tags: string[];
  subject: string;
  from: AddressView | null;
  createdAt: string;
  updatedAt: string;
  articleCount: number;
  lastArticleAt: string;
  url: string;
}

export interface AttachmentView {
  id: string;
  /** safe to save under (see safeFilename): the name the download's Content-Disposition gives */
  filename: string;
  /** the name as the mail gave it, only when safeFilename changed it */
  originalFilename?: string;
  contentType: string;
  size: number;
  inline: boolean;
  contentId?: string;
  url: string;
}

export interface ArticleView {
  no: number;
  createdAt: string;
  receivedAt: string;
  /** server arrival time (IMAP INTERNALDATE) when known */
  serverDate: string | null;
  /** the message's Date header, as ISO 8601, when present and valid */
  date: string | null;
  mailbox: string;
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  subject: string;
  from: AddressView | null;
  to: AddressView[];
  cc: AddressView[];
  text: string;
  /**
   * sanitised (see src/ingest/sanitize-html.ts); null when the message had no HTML part or it was
   * too large to sanitise (flag 'html-too-large': use `text`)
   */
  html: string | null;
  size: number;
  flags: string[];
  attachments: AttachmentView[];
  /** the exact stored message (message/rfc822); null when it was not kept */
  rawUrl: string | null;
}

export interface TicketView extends Omit<TicketSummaryView, 'url'> {
  fields: Record<string, string>;
  articles: ArticleView[];
}

export interface ViewOptions {
  /** prefix for URLs: '' (relative, the default) or server.publicUrl without a trailing slash */
  baseUrl?: string;
  /**
   * HTML sanitiser for articles stored without a sanitised copy (before it was made at ingest):
   * null when it declines (too large to sanitise here: the article shows text only).
   */
  sanitize: (html: string, key: string) => string | null;
}

const enc = encodeURIComponent;

export function ticketPath(ticketId: string): string {
  return `/v1/tickets/${enc(ticketId)}`;
}

export function attachmentId(articleNo: number, index: number): string {
  return `${articleNo}.${index}`;
}

export function attachmentPath(ticketId: string, articleNo: number, index: number): string {
  return `${ticketPath(ticketId)}/attachments/${attachmentId(articleNo, index)}`;
}

export function rawPath(ticketId: string, articleNo: number): string {
  return `${ticketPath(ticketId)}/articles/${articleNo}/raw`;
}

function address(a: Address | null | undefined): AddressView | null {
  return a ? { name: String(a.name ?? ''), address: String(a.address ?? '') } : null;
}

function addresses(list: Address[] | null | undefined): AddressView[] {
  return (list ?? []).map((a) => address(a)).filter((a): a is AddressView => a !== null);
}

function headerDate(headers: Record<string, string[]> | undefined): string | null {
  const v = headers?.['date']?.[0];
  if (!v) return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function summaryView(t: TicketSummary, baseUrl = ''): TicketSummaryView {
  return {
    id: t.id,
    company: t.company,
    contract: t.contract,
    status: t.status,
    type: t.type,
    group: t.group,
    priority: t.priority,
    tags: [...t.tags],
    subject: t.subject,
    from: address(t.from),
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    articleCount: t.articleCount,
    lastArticleAt: t.lastArticleAt,
    url: baseUrl + ticketPath(t.id),
  };
}

function attachmentView(ticketId: string, a: Article, att: AttachmentRef, index: number, baseUrl: string): AttachmentView {
  const filename = safeFilename(att.filename);
  return {
    id: attachmentId(a.no, index),
    filename,
    ...(filename !== att.filename && { originalFilename: att.filename }),
    contentType: att.contentType,
    size: att.size,
    inline: att.inline,
    ...(att.contentId && { contentId: att.contentId }),
    url: baseUrl + attachmentPath(ticketId, a.no, index),
  };
}

/** The article's display HTML: the copy sanitised at ingest, else (older articles) opts.sanitize's. */
function displayHtml(ticketId: string, a: Article, opts: ViewOptions): { html: string | null; tooLarge: boolean } {
  if (!a.html) return { html: null, tooLarge: false };
  if (a.safeHtml !== undefined) return { html: a.safeHtml, tooLarge: false }; // its flag is stored
  const html = opts.sanitize(a.html, `${ticketId}#${a.no}`);
  return { html, tooLarge: html === null };
}

export function articleView(ticketId: string, a: Article, opts: ViewOptions): ArticleView {
  const baseUrl = opts.baseUrl ?? '';
  const { html, tooLarge } = displayHtml(ticketId, a, opts);
  return {
    no: a.no,
    createdAt: a.createdAt,
    receivedAt: a.receivedAt,
    serverDate: a.serverDate,
    date: headerDate(a.headers),
    mailbox: a.mailbox,
    messageId: a.messageId,
    inReplyTo: [...a.inReplyTo],
    references: [...a.references],
    subject: a.subject,
    from: address(a.from),
    to: addresses(a.to),
    cc: addresses(a.cc),
    text: a.text,
    html,
    size: a.size,
    flags: tooLarge && !a.flags.includes('html-too-large') ? [...a.flags, 'html-too-large'] : [...a.flags],
    attachments: a.attachments.map((att, i) => attachmentView(ticketId, a, att, i + 1, baseUrl)),
    rawUrl: a.rawRef ? baseUrl + rawPath(ticketId, a.no) : null,
  };
}

export function ticketView(t: Ticket, opts: ViewOptions): TicketView {
  const { url: _url, ...summary } = summaryView(t, opts.baseUrl);
  return {
    ...summary,
    fields: { ...t.fields },
    articles: t.articles.map((a) => articleView(t.id, a, opts)),
  };
}

export interface FoundAttachment {
  article: Article;
  attachment: AttachmentRef;
  index: number;
}

/**
 * The attachment `attId` of this ticket, or null: "<article>.<index>" (as listed), or — as an alias
 * for links built from the store's AttachmentRef — its sha256 if some article of this ticket has it.
 */
export function findAttachment(t: Ticket, attId: string): FoundAttachment | null {
  const pos = /^([1-9]\d{0,6})\.([1-9]\d{0,4})$/.exec(attId);
  if (pos) {
    const no = Number(pos[1]);
    const index = Number(pos[2]);
    const article = t.articles.find((a) => a.no === no);
    const attachment = article?.attachments[index - 1];
    return article && attachment ? { article, attachment, index } : null;
  }
  if (/^[0-9a-f]{64}$/i.test(attId)) {
    const sha = attId.toLowerCase();
    for (const article of t.articles) {
      const i = article.attachments.findIndex((x) => x.id.toLowerCase() === sha);
      const attachment = article.attachments[i];
      if (attachment) return { article, attachment, index: i + 1 };
    }
  }
  return null;
}
