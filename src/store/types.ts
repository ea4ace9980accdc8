// Why this file exists: the public data shapes of the embedded ticket store (store.driver: lowdb).
// Pollers build CommitItems, the HTTP API reads Tickets/TicketSummaries, metrics read StoreStats.
// Kept free of runtime code so every other module can import it without pulling in fs.
import type { TightenedModes } from './permissions.js';

export type TicketStatus = 'open' | 'held' | 'dropped' | 'rejected';

export interface Address {
  name: string;
  address: string;
}

export interface AttachmentRef {
  id: string; // sha256 of the blob
  filename: string;
  contentType: string;
  size: number;
  inline: boolean;
  /** Content-ID without <> (inline images referenced as cid: in the html) */
  contentId?: string;
}

export interface ArticleInput {
  /** e.g. 'imap:<mailbox>:<uidvalidity>:<uid>', 'pop3:<mailbox>:<uidl>', 'midc:<company>:<content-hash>:<message-id>' (before: 'mid:<company>:<message-id>', see src/ingest/message-id-dedupe.ts); any key already known ⇒ duplicate */
  dedupeKeys: string[];
  mailbox: string;
  receivedAt: string; // ISO
  serverDate: string | null;
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  subject: string;
  from: Address | null;
  to: Address[];
  cc: Address[];
  headers: Record<string, string[]>;
  text: string;
  html: string | null;
  /**
   * `html` sanitised for display at ingest (in a parse worker); null when there was none or it was
   * too large to sanitise (flag 'html-too-large'). Absent on articles stored by versions before it:
   * the API then sanitises small ones itself (ticket-view.ts).
   */
  safeHtml?: string | null;
  attachments: AttachmentRef[];
  /** sha256 of the raw message blob (null only if not stored) */
  rawRef: string | null;
  size: number;
  /** e.g. 'too-big', 'unparsed', 'auto-reply', 'bounce', 'loop' */
  flags: string[];
}

export interface TicketInput {
  company: string;
  contract: string | null;
  status: TicketStatus;
  type?: string;
  group?: string;
  priority?: string;
  tags?: string[];
  fields?: Record<string, string>;
  /** ticket id prefix, e.g. 'ACME' → 'ACME-000123' */
  prefix: string;
}

export type ServerActionKind = 'keep' | 'seen' | 'move' | 'delete';

export interface AfterFetch {
  mailbox: string;
  /** imap/pop3: the mail server; graph/gmail: the mailbox's HTTP API (the message named by remoteId) */
  kind: 'imap' | 'pop3' | 'graph' | 'gmail';
  folder?: string;
  uidValidity?: number;
  uid?: number;
  uidl?: string;
  /** graph: the message's immutable id; gmail: the message id */
  remoteId?: string;
  action: ServerActionKind;
  /** imap/graph: folder, gmail: label */
  moveTo?: string;
}

/**
 * An API mailbox's opaque sync position for one folder (Graph delta link, Gmail history id). Unlike
 * an IMAP checkpoint it is replaced, never compared: the last one committed is where the next sync
 * starts. Within one commit the last item's cursor wins.
 */
export interface CursorInput {
  mailbox: string;
  folder: string;
  value: string;
}

export interface CheckpointInput {
  mailbox: string;
  folder: string;
  uidValidity: number;
  uid: number;
}

export interface CommitItem {
  article: ArticleInput;
  /** used when a new ticket is created */
  ticket: TicketInput;
  /** existing ticket id (same company): append as a new article instead of creating */
  threadTo?: string;
  /**
   * With threadTo: the ticket's status changes from `from` to `to` in the same durable write as the
   * article, if it still is `from` (a reply to a rejected ticket reopens it as held).
   */
  reopen?: { from: TicketStatus; to: TicketStatus };
  /** recorded as a PENDING server action in the same durable write ('keep' records nothing) */
  afterFetch?: AfterFetch;
  /** IMAP: advance in the same durable write (never backwards) */
  checkpoint?: CheckpointInput;
  /** POP3: add to the committed UIDL set in the same write */
  pop3Uidl?: { mailbox: string; uidl: string };
  /** Graph/Gmail: replace the folder's sync cursor in the same write */
  cursor?: CursorInput;
}

export interface CommitResult {
  ticketId: string;
  articleNo: number;
  duplicate: boolean;
  created: boolean;
  /** id of the pending server action recorded for this item's afterFetch (null if none/'keep') */
  actionId: string | null;
  /** this item's reopen changed its ticket's status (the ticket was announced to no webhook yet) */
  reopened?: true;
}

export interface Article extends ArticleInput {
  no: number; // 1-based within its ticket
  createdAt: string; // ISO, when the store accepted it
  /**
   * Store-internal: the server actions recorded for this article (its own, and those of copies of it
   * deduplicated onto it). meta.json holds the pending ones; this copy is written first, so a crash
   * between the two writes cannot lose an action (openTicketStore restores it). Not shown by the API.
   */
  actions?: (AfterFetch & { id: string })[];
}

export interface TicketSummary {
  id: string;
  company: string;
  contract: string | null;
  status: TicketStatus;
  type: string | null;
  group: string | null;
  priority: string | null;
  tags: string[];
  subject: string; // of the first article
  from: Address | null; // of the first article
  createdAt: string;
  updatedAt: string;
  articleCount: number;
  lastArticleAt: string;
}

export interface Ticket extends TicketSummary {
  prefix: string;
  fields: Record<string, string>;
  articles: Article[];
}

export interface PendingAction extends AfterFetch {
  id: string;
  ticketId: string;
  articleNo: number;
  createdAt: string;
}

export interface Checkpoint {
  uidValidity: number;
  uid: number;
}

export interface ListTicketsQuery {
  /** tenant scope of the caller: allowed companies, or '*' for all */
  companies: string[] | '*';
  company?: string;
  contract?: string;
  status?: TicketStatus;
  /** ISO timestamp: only tickets created at or after it */
  since?: string;
  /** opaque, from a previous page's `next` */
  cursor?: string | null;
  limit: number;
  /** creation order; default 'asc' (oldest first) */
  order?: 'asc' | 'desc';
}

export interface TicketPage {
  items: TicketSummary[];
  next: string | null;
}

export interface StoreStats {
  tickets: number;
  articles: number;
  pendingActions: number;
}

export interface StoreIoStats {
  /** durable flush cycles (each one = one durable write per touched file) */
  flushes: number;
  /** files written durably, summed over flushes */
  fileWrites: number;
  /** commit()/setStatus()/completeActions()/... calls that waited on a flush */
  waiters: number;
}

export interface TicketStoreOptions {
  /** max tickets per segment file (default 250; see bench/store.ts for the trade-off) */
  segmentTickets?: number;
  /** a segment also stops taking new tickets once its file is this big (default 1 MiB) */
  segmentBytes?: number;
  /** how many non-dirty segments to keep parsed in memory (default 8) */
  segmentCache?: number;
  /** called at open when modes open to other users were found (tightened to 0700/0600 where allowed; see permissions.ts) */
  onModesTightened?: (t: TightenedModes) => void;
}

/** Error with a machine-readable code, e.g. for the HTTP layer ('bad-cursor' → 400). */
export class StoreError extends Error {
  constructor(
    readonly code: 'bad-cursor' | 'bad-query' | 'bad-input' | 'closed' | 'locked' | 'corrupt' | 'failed' | 'fenced' | 'claimed',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
