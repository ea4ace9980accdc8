// The outbox part of /v1/status (issue 7): depth, per status, held, dead letters, oldest waiting.
import { describe, expect, it } from 'vitest';
import { outboxSummary, senderHealth } from '../../src/outbound/outbox-summary.js';
import type { OutboxEntry } from '../../src/store/outbox-types.js';

describe('outboxSummary', () => {
  const e = (status: OutboxEntry['status'], createdAt: string, lastError: OutboxEntry['lastError'] = null) => ({ status, createdAt, lastError }) as OutboxEntry;

  it('depth, per status, held, dead letters and the oldest waiting message', () => {
    const held = { class: 'mailbox' as const, code: 'ESUSPENDED', responseCode: null, message: 'mailbox x is suspended' };
    const s = outboxSummary([e('sent', '2026-01-01T00:00:00Z'), e('failed', '2026-01-01T00:00:01Z'), e('retrying', '2026-01-02T00:00:00Z'), e('queued', '2026-01-03T00:00:00Z', held), e('queued', '2026-01-04T00:00:00Z'), e('sending', '2026-01-05T00:00:00Z')]);
    expect(s).toEqual({ depth: 4, queued: 2, sending: 1, retrying: 1, held: 1, failed: 1, oldestQueuedAt: '2026-01-02T00:00:00Z' });
    expect(outboxSummary([])).toEqual({ depth: 0, queued: 0, sending: 0, retrying: 0, held: 0, failed: 0, oldestQueuedAt: null });
  });
});

describe('senderHealth', () => {
  const e = (mailbox: string | null, status: OutboxEntry['status'], updatedAt: string, message?: string) =>
    ({ mailbox, status, updatedAt, lastError: message ? { class: 'mailbox', code: 'EAUTH', responseCode: 535, message } : null }) as OutboxEntry;

  it('per sending mailbox: unfinished messages and the newest error of those being retried', () => {
    const h = senderHealth([
      e('desk', 'retrying', '2026-01-01T00:00:01Z', '535 old refusal'),
      e('desk', 'retrying', '2026-01-01T00:00:05Z', '535 5.7.8 Authentication credentials invalid'),
      e('desk', 'queued', '2026-01-01T00:00:06Z'),
      e('desk', 'sent', '2026-01-01T00:00:07Z'),
      e(null, 'queued', '2026-01-01T00:00:00Z'),
    ]);
    expect(h.get('desk')).toEqual({ backlog: 3, retrying: 2, lastError: { class: 'mailbox', code: 'EAUTH', responseCode: 535, message: '535 5.7.8 Authentication credentials invalid', at: '2026-01-01T00:00:05Z' } });
    expect(h.get('default')).toEqual({ backlog: 1, retrying: 0, lastError: null });
  });
});
