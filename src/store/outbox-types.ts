// Why this file exists: the shapes of the durable outbox, shared by the stores that keep them, the
// sender that moves them through their states and the API that shows them; and sentPatch, the one
// pure rule of what "sent" writes, which the sender and the embedded store's crash recovery share.

/** `sending` exists only in memory: on disk a message is queued/retrying until it has an outcome. */
export type OutboxStatus = 'queued' | 'sending' | 'sent' | 'retrying' | 'failed';

/** Why the message exists; decides e.g. whether its failure is notified. */
export type OutboxPurpose = 'message' | 'reply' | 'acknowledgement' | 'notification';

/** What the resolver was asked at enqueue; asked again at send time against the current config. */
export interface OutboxRequest {
  company?: string;
  contract?: string;
  workflow?: string;
  mailbox?: string;
  kind: 'user' | 'system';
}

export interface RecipientOutcome {
  address: string;
  /** SMTP reply code, null when the failure had none */
  code: number | null;
  response: string;
}

export interface OutboxError {
  /** permanent | temporary | mailbox (a problem of the sending mailbox: auth, TLS, config) */
  class: 'permanent' | 'temporary' | 'mailbox';
  /** nodemailer / OS error code, e.g. EENVELOPE, ECONNECTION */
  code: string | null;
  responseCode: number | null;
  message: string;
}

export interface OutboxEntry {
  /** `msg_<time><random>`: sortable, unguessable */
  id: string;
  createdAt: string;
  updatedAt: string;
  purpose: OutboxPurpose;
  company: string | null;
  request: OutboxRequest;
  /** Mailbox the resolver picked at enqueue (null = the global default server). */
  mailbox: string | null;
  ticket: string | null;
  /** Client-supplied Idempotency-Key (scoped to the company). */
  idempotencyKey: string | null;
  /** sha256 of the request an Idempotency-Key came with: the same key with another request is refused */
  requestHash?: string | null;
  /** Message-ID header value, without <> */
  messageId: string;
  subject: string;
  /** MAIL FROM and the recipients still to deliver (accepted ones are removed). */
  envelope: { from: string; to: string[] };
  /** The MIME message as a latin1 string (byte-exact); null once the message is sent or failed. */
  raw: string | null;
  size: number;
  status: OutboxStatus;
  /** Attempts whose outcome is recorded. */
  attempts: number;
  /** Highest attempt whose end-of-data marker is durable (the commit point, see outbox-store.ts). */
  committed: number;
  nextAttemptAt: string | null;
  accepted: string[];
  rejected: RecipientOutcome[];
  /** The server's reply to the end of data of the last accepted attempt. */
  response: string | null;
  /**
   * true: the server's acceptance was recorded. false: the process died after the end of data was
   * sent and before the reply was recorded; the message is counted as sent and never resent.
   */
  confirmed: boolean | null;
  /** A connection was lost after the end of data and the message was sent again (same Message-ID). */
  possibleDuplicate: boolean;
  lastError: OutboxError | null;
  sentAt: string | null;
  failedAt: string | null;
}

/** One line of the journal. */
export type JournalRecord =
  | { t: 'base'; v: 1; at: string }
  | { t: 'put'; e: OutboxEntry }
  | { t: 'commit'; id: string; a: number }
  | { t: 'set'; id: string; p: Partial<OutboxEntry> };

export const TERMINAL: ReadonlySet<OutboxStatus> = new Set(['sent', 'failed']);

export interface OutboxStoreOptions {
  /** How long sent/failed messages stay visible to GET /v1/messages/:id (default 7 days). */
  retentionMs?: number;
  /** At most this many finished messages are kept for GET (default 100,000, oldest dropped first). */
  maxFinished?: number;
  /** Compact once the journal is this big and twice the live size (default 64 MiB). */
  compactBytes?: number;
}

export interface OutboxRecovery {
  /** Messages that were past the commit point when the process died: recorded as sent, unconfirmed. */
  unconfirmed: string[];
  tornTail: boolean;
}


/** What recording a message as sent changes (its raw goes: nothing is sent twice). */
export function sentPatch(e: OutboxEntry, o: { at: string; response: string | null; confirmed: boolean; accepted: string[] }): Partial<OutboxEntry> {
  return {
    status: 'sent',
    sentAt: o.at,
    response: o.response,
    confirmed: o.confirmed,
    accepted: [...new Set([...e.accepted, ...o.accepted])],
    envelope: { from: e.envelope.from, to: [] },
    nextAttemptAt: null,
    raw: null,
  };
}
