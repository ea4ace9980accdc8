// Why this file exists: the outbox's outcome decisions (outcome.ts, pure): sent, partial, retried,
// failed, given up for age, and what each says about the lane.
import { describe, expect, it } from 'vitest';
import { nextOutboxState, type OutcomeContext } from '../../src/outbound/outcome.js';
import type { OutboxEntry } from '../../src/store/outbox-types.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const entry = (o: Partial<OutboxEntry> = {}): OutboxEntry => ({
  id: 'msg_1', createdAt: new Date(T0).toISOString(), updatedAt: '', purpose: 'message', company: 'acme', request: { kind: 'user' }, mailbox: 'desk', ticket: null,
  idempotencyKey: null, messageId: 'm@x', subject: 's', envelope: { from: 'desk@acme.example', to: ['a@x.example', 'b@x.example'] }, raw: 'x', size: 1, status: 'sending',
  attempts: 0, committed: 0, nextAttemptAt: null, accepted: [], rejected: [], response: null, confirmed: null, possibleDuplicate: false, lastError: null, sentAt: null, failedAt: null, ...o,
});
const ctx = (o: Partial<OutcomeContext> = {}): OutcomeContext => ({
  now: T0 + 1000, attempt: 1, laneFailures: 0,
  policy: { initialBackoffMs: 60_000, maxBackoffMs: 3_600_000, maxAgeMs: 3 * 86_400_000, laneBackoffMs: 30_000, random: () => 0.5 }, ...o,
});
const sent = (accepted: string[], rejectedErrors: { recipient: string; responseCode: number; response: string }[] = []) => ({ result: { accepted, rejectedErrors, response: '250 ok' } as never });

describe('nextOutboxState', () => {
  it('all accepted: sent, lane healthy, nothing to notify', () => {
    const t = nextOutboxState(entry(), sent(['a@x.example', 'b@x.example']), ctx());
    expect(t).toMatchObject({ verdict: 'sent', error: null, lane: { healthy: true } });
    expect(t.patch).toMatchObject({ status: 'sent', attempts: 1, confirmed: true, lastError: null });
    expect(t.notify).toBeUndefined();
  });

  it('one refused for good: sent, and that recipient is notified', () => {
    const t = nextOutboxState(entry(), sent(['a@x.example'], [{ recipient: 'b@x.example', responseCode: 550, response: '550 no such user' }]), ctx());
    expect(t.verdict).toBe('sent');
    expect(t.notify?.recipients).toEqual([{ address: 'b@x.example', code: 550, response: '550 no such user' }]);
  });

  it('one refused for now: the rest is retried later, only that recipient', () => {
    const t = nextOutboxState(entry(), sent(['a@x.example'], [{ recipient: 'b@x.example', responseCode: 451, response: '451 try later' }]), ctx());
    expect(t.verdict).toBe('retrying');
    expect(t.patch).toMatchObject({ status: 'retrying', accepted: ['a@x.example'], envelope: { to: ['b@x.example'] } });
    expect(t.nextAt).toBeGreaterThan(T0 + 1000);
  });

  it('a 5xx for the message fails it and notifies every recipient', () => {
    const err = Object.assign(new Error('554 rejected'), { responseCode: 554, code: 'EMESSAGE', response: '554 rejected' });
    const t = nextOutboxState(entry(), { error: err, committed: true }, ctx());
    expect(t.verdict).toBe('failed');
    expect(t.patch).toMatchObject({ status: 'failed', envelope: { to: [] } });
    expect(t.notify?.recipients.map((r) => r.address)).toEqual(['a@x.example', 'b@x.example']);
  });

  it('a lost connection after the end of data: retried, flagged possible duplicate', () => {
    const err = Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' });
    const t = nextOutboxState(entry({ attempts: 1 }), { error: err, committed: true }, ctx({ attempt: 2 }));
    expect(t.verdict).toBe('retrying');
    expect(t.patch.possibleDuplicate).toBe(true);
  });

  it('a message older than maxAge gives up instead of retrying', () => {
    const err = Object.assign(new Error('451 later'), { responseCode: 451, code: 'EMESSAGE', response: '451 later' });
    const t = nextOutboxState(entry({ attempts: 9 }), { error: err, committed: false }, ctx({ attempt: 10, now: T0 + 4 * 86_400_000 }));
    expect(t.verdict).toBe('failed');
    expect(t.notify?.reason).toMatch(/gave up after 10 attempts/);
  });
});
