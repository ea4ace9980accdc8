// What /v1/status says about the outbox (issue 7: queue depth and dead letters): how many messages
// wait (queued, sending, retrying; `held` of them for a suspended mailbox), how many failed for good
// (those the store still keeps), and since when the oldest waiting one waits. Pure.
import { TERMINAL, type OutboxEntry } from '../store/outbox-types.js';

export interface OutboxSummary {
  /** Messages not finished: queued + sending + retrying. */
  depth: number;
  queued: number;
  sending: number;
  retrying: number;
  /** Of `queued`: held back because their mailbox is suspended. */
  held: number;
  /** Failed for good (dead letters), as far as the store still keeps them. */
  failed: number;
  /** createdAt of the oldest unfinished message, or null. */
  oldestQueuedAt: string | null;
}

export function outboxSummary(entries: Iterable<OutboxEntry>): OutboxSummary {
  const s: OutboxSummary = { depth: 0, queued: 0, sending: 0, retrying: 0, held: 0, failed: 0, oldestQueuedAt: null };
  for (const e of entries) {
    if (e.status === 'failed') s.failed++;
    if (TERMINAL.has(e.status)) continue;
    s.depth++;
    if (e.status === 'queued') s.queued++;
    else if (e.status === 'sending') s.sending++;
    else s.retrying++;
    if (e.status === 'queued' && e.lastError?.code === 'ESUSPENDED') s.held++;
    if (s.oldestQueuedAt === null || e.createdAt < s.oldestQueuedAt) s.oldestQueuedAt = e.createdAt;
  }
  return s;
}

/** What /v1/status says about one sending mailbox from its unfinished messages: how many wait and
 * the most recent error among those being retried (a refused login shows here, not only in logs). */
export interface SenderHealth {
  backlog: number;
  retrying: number;
  lastError: (OutboxEntry['lastError'] & { at: string }) | null;
}

export function senderHealth(entries: Iterable<OutboxEntry>): Map<string, SenderHealth> {
  const out = new Map<string, SenderHealth>();
  for (const e of entries) {
    if (TERMINAL.has(e.status)) continue;
    const label = e.mailbox ?? 'default';
    const h = out.get(label) ?? out.set(label, { backlog: 0, retrying: 0, lastError: null }).get(label)!;
    h.backlog++;
    if (e.status !== 'retrying' || !e.lastError) continue;
    h.retrying++;
    if (!h.lastError || e.updatedAt > h.lastError.at) h.lastError = { ...e.lastError, at: e.updatedAt };
  }
  return out;
}
