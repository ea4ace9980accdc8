// Per-mailbox status as shown by /v1/status and used for metrics.
import type { ErrorClass } from './errors.js';

export type PollerState = 'idle' | 'polling' | 'idle-waiting' | 'backoff' | 'suspended' | 'disabled' | 'stopped';

export interface MailboxStatus {
  mailbox: string;
  companies: string[];
  protocol: 'imap' | 'pop3' | 'graph' | 'gmail' | null;
  state: PollerState;
  lastSuccess: string | null;
  lastError: { class: ErrorClass; message: string; at: string; hint: string } | null;
  consecutiveFailures: number;
  nextAttemptAt: string | null;
  /** IMAP: folder + uid; POP3: UIDLs kept; graph/gmail: the folder and whether a sync cursor is held (never its value: a delta link is long and opaque) */
  checkpoint: { folder: string; uidValidity: number; uid: number } | { uidls: number } | { folder: string; cursor: boolean } | null;
  backlog: number | null;
  ingested: number;
  suspendedReason?: string | null;
}

export function initialStatus(mailbox: string, companies: string[], protocol: MailboxStatus['protocol'], state: PollerState): MailboxStatus {
  return { mailbox, companies, protocol, state, lastSuccess: null, lastError: null, consecutiveFailures: 0, nextAttemptAt: null, checkpoint: null, backlog: null, ingested: 0 };
}
