// The outbox part of /v1/status (issue 7): depth, per status, held, dead letters, oldest waiting.
import { describe, expect, it } from 'vitest';
import { outboxSummary } from '../../src/outbound/outbox-summary.js';
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
