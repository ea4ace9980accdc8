// The pure side of Gmail (src/gmail/sync-plan.ts, outbound/gmail-send.ts): cursors, Google's
// published history page read as the session expects, which cursor each message carries, `since`,
// and Google's error answers mapped onto SMTP outcomes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { graphError } from '../../src/graph/client.js';
import { addedToLabel, formatGmailCursor, parseGmailCursor, planGmailPage, sinceQuery } from '../../src/gmail/sync-plan.js';
import { classifyError } from '../../src/inbound/errors.js';
import { classifySendError, isAuthRefusal } from '../../src/outbound/errors.js';
import { gmailSendError } from '../../src/outbound/gmail-send.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/gmail/${name}`, import.meta.url), 'utf8');

describe('Gmail sync plan', () => {
  it('cursors round-trip; an unknown one means start over', () => {
    for (const c of [{ phase: 'list', historyId: '3085750', pageToken: null }, { phase: 'list', historyId: '1', pageToken: '08596712340091326549' }, { phase: 'history', historyId: '3085750' }] as const)
      expect(parseGmailCursor(formatGmailCursor(c))).toEqual(c);
    expect(parseGmailCursor('https://graph.microsoft.com/...')).toBeNull();
    expect(parseGmailCursor(null)).toBeNull();
  });

  it('the published history page: the messages added to the label, each once', () => {
    const page = JSON.parse(fixture('history-list.json')) as { history: unknown };
    expect(addedToLabel(page.history, 'INBOX')).toEqual(['18c5e8f0a1b2c3d4']);
    expect(addedToLabel(page.history, 'Label_9')).toEqual([]);
    const relabel = [{ id: '2', labelsAdded: [{ message: { id: 'a' }, labelIds: ['INBOX'] }, { message: { id: 'b' }, labelIds: ['STARRED'] }] }, { id: '3', messagesAdded: [{ message: { id: 'a', labelIds: ['INBOX'] } }] }];
    expect(addedToLabel(relabel, 'INBOX')).toEqual(['a']);
  });

  it('known ids are skipped; the last new one carries the next cursor', () => {
    const plan = planGmailPage(['x', 'y', 'z', 'z'], new Set(['k:y']), (id) => `k:${id}`, 'CUR', 'NEXT');
    expect(plan.fetch).toEqual(['x', 'z']);
    expect([plan.cursorOf(0), plan.cursorOf(1)]).toEqual(['CUR', 'NEXT']);
  });

  it('since is an after: query', () => {
    expect(sinceQuery('2024-03-01')).toBe('after:2024/03/01');
    expect(sinceQuery(null)).toBeNull();
  });
});

describe('Gmail errors', () => {
  it("Google's error body: reason as the code, classified by status", () => {
    const nf = graphError(404, fixture('error-not-found.json'), null, 'Gmail');
    expect([nf.graphCode, nf.message]).toEqual(['notFound', 'Gmail HTTP 404 notFound: Requested entity was not found.']);
    const rl = graphError(429, fixture('error-rate-limit.json'), '3', 'Gmail');
    expect(classifyError(rl)).toMatchObject({ class: 'busy' });
    expect(rl.retryAfterMs).toBe(3000);
  });

  it('messages.send refusals give the SMTP outcomes: 401/insufficient scope → 535, rate limits → 421, 400 → 554', () => {
    const c = (s: number, reason: string) => classifySendError(gmailSendError(graphError(s, JSON.stringify({ error: { code: s, message: 'm', errors: [{ reason }] } }), null, 'Gmail')));
    expect(isAuthRefusal(c(401, 'authError'))).toBe(true);
    expect(isAuthRefusal(c(403, 'insufficientPermissions'))).toBe(true);
    expect(c(403, 'userRateLimitExceeded')).toMatchObject({ class: 'temporary', responseCode: 421 });
    expect(c(400, 'invalidArgument')).toMatchObject({ class: 'permanent', responseCode: 554 });
    expect(c(500, 'backendError')).toMatchObject({ class: 'temporary', responseCode: 451 });
  });
});
