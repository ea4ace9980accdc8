// Why this file exists: the shape of a webhook delivery as the store keeps it, shared by the store
// port, its implementations, the webhook dispatcher and the API. No runtime code.

/**
 * pending: to be sent (or waiting behind an older one of its ticket); held: its ticket waits for
 * approval, not sent; dead: dead letter, until replayed; delivered and cancelled (the held ticket was
 * rejected) are final.
 */
export type DeliveryStatus = 'pending' | 'held' | 'delivered' | 'dead' | 'cancelled';

export interface DeliveryRecord {
  /** Stable across retries and restarts: receivers dedupe on it. */
  id: string;
  webhook: string;
  ticketId: string;
  articleNo: number;
  event: 'ticket.created' | 'article.created';
  mailbox: string;
  /** Dedupe key of the message. */
  key: string;
  /** Pending server action (move/delete) that waits for this delivery. */
  gate: string | null;
  status: DeliveryStatus;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  lastStatus: number | null;
  /** When it entered the queue (for a held ticket: when it was approved); latency starts here. */
  createdAt: string;
  finishedAt: string | null;
}

/** Per webhook, for status and gauges. */
export interface DeliverySummary {
  pending: number;
  /** pending ones waiting behind a dead letter of their ticket */
  blocked: number;
  held: number;
  dead: number;
}
