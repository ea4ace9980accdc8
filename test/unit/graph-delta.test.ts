// The pure side of Graph inbound (src/graph/delta.ts, client.ts): Microsoft's published delta pages
// and error bodies (test/fixtures/graph/) parse as the session expects; which cursor each committed
// message carries so a crash replays the right page; Retry-After; errors classified by HTTP status.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { graphError, retryAfterMs } from '../../src/graph/client.js';
import { initialDeltaPath, parseDeltaPage, planDeltaPage } from '../../src/graph/delta.js';
import { classifyError } from '../../src/inbound/errors.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/graph/${name}`, import.meta.url), 'utf8');

describe('Graph delta pages', () => {
  it('a page with @odata.nextLink: its messages, the round goes on', () => {
    const p = parseDeltaPage(JSON.parse(fixture('delta-first-page.json')));
    expect(p.roundDone).toBe(false);
    expect(p.next).toMatch(/\$skiptoken=GwcBoTmPuoTQWfcsAbkYM$/);
    expect(p.messages.map((m) => [m.id, m.removed])).toEqual([['AAMkADNkNAAARn2vdzPFjSbaPPxzjlzOTAAAEfYB+AAA=', false], ['AAMkADNkNAAARn2vdzPFjSbaPPxzjlzOTAAAEfYB/AAA=', false]]);
  });

  it('the last page: @odata.deltaLink ends the round; an @removed row is a removal', () => {
    const p = parseDeltaPage(JSON.parse(fixture('delta-last-page.json')));
    expect(p.roundDone).toBe(true);
    expect(p.next).toMatch(/\$deltatoken=GwcBoTmPKILK4jLH7mAd1lLU$/);
    expect(p.messages.map((m) => m.removed)).toEqual([false, true]);
  });

  it('a page without either link is a protocol error, not an endless loop', () => {
    expect(() => parseDeltaPage({ value: [] })).toThrow(/without @odata.nextLink/);
  });

  it('known and removed messages are not fetched; the last fetched carries the next link, the others the current one', () => {
    const page = { messages: [{ id: 'a', removed: false }, { id: 'b', removed: false }, { id: 'c', removed: true }, { id: 'd', removed: false }, { id: 'd', removed: false }], next: 'NEXT', roundDone: false };
    const plan = planDeltaPage(page, 'CUR', new Set(['k:b']), (id) => `k:${id}`);
    expect(plan.fetch).toEqual(['a', 'd']);
    expect([plan.cursorOf(0), plan.cursorOf(1)]).toEqual(['CUR', 'NEXT']);
  });

  it('the first request of a round filters on receivedDateTime for since', () => {
    expect(initialDeltaPath('inbox-id', null)).toBe('/mailFolders/inbox-id/messages/delta');
    expect(decodeURIComponent(initialDeltaPath('inbox-id', '2024-03-01'))).toBe('/mailFolders/inbox-id/messages/delta?$filter=receivedDateTime ge 2024-03-01T00:00:00Z');
  });
});

describe('Graph errors', () => {
  it('read from Graph\'s error body, classified by HTTP status', () => {
    const throttled = graphError(429, fixture('error-throttled.json'), '7');
    expect([throttled.graphCode, throttled.retryAfterMs]).toEqual(['ApplicationThrottled', 7000]);
    expect(classifyError(throttled)).toMatchObject({ class: 'busy', permanent: false });
    const unauth = graphError(401, fixture('error-unauthorized.json'), null);
    expect(classifyError(unauth)).toMatchObject({ class: 'auth', permanent: true });
    expect(unauth.message).toBe('Graph HTTP 401 InvalidAuthenticationToken: Access token has expired or is not yet valid.');
    expect(classifyError(graphError(403, fixture('error-access-denied.json'), null))).toMatchObject({ class: 'auth', permanent: true });
    expect(graphError(410, fixture('error-sync-state.json'), null).graphCode).toBe('SyncStateNotFound');
    expect(classifyError(graphError(502, '<html>bad gateway</html>', null))).toMatchObject({ class: 'protocol', permanent: false });
  });

  it('Retry-After in seconds or as an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(1_000_000 + 5000).toUTCString(), 1_000_000)).toBe(5000);
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });
});
