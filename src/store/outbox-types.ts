// Why this file exists: the shapes of the durable outbox (<store.path>/outbox/), shared by the
// journal that persists them, the sender that moves them through their states and the API that
// shows them. No runtime code, so anything may import it.

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
