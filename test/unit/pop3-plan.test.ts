// Why this file exists: the POP3 sync plan's decisions (pure): what to redo, fetch and finish.
import { describe, expect, it } from 'vitest';
import { olderThanSince, planPop3Sync } from '../../src/inbound/pop3-plan.js';
import type { PendingAction } from '../../src/store/types.js';

const action = (id: string, uidl: string, a: PendingAction['action'] = 'delete'): PendingAction => ({ id, mailbox: 'pop', kind: 'pop3', uidl, action: a, ticketId: 'T-1', articleNo: 1, createdAt: '' });

describe('planPop3Sync', () => {
  const listing = { uidls: new Map([[1, 'A'], [2, 'B'], [3, 'C'], [4, 'D']]) };
  it('fetches only what is neither committed, nor known by key, nor too old', () => {
    const plan = planPop3Sync('pop', listing, [], { committed: new Set(['A']), knownKeys: new Set(['pop3:pop:B']), tooOld: new Set(['C']) });
    expect(plan.fetch).toEqual([4]);
  });
  it('redoes a recorded delete of a listed message, finishes every pending POP3 action', () => {
    const imap: PendingAction = { ...action('x', 'Z'), kind: 'imap' };
    const plan = planPop3Sync('pop', listing, [action('a1', 'A'), action('gone', 'Q'), imap], { committed: new Set(['A']), knownKeys: new Set(), tooOld: new Set() });
    expect(plan.redo).toEqual([1]);
    expect(plan.finish).toEqual(['a1', 'gone']);
  });
});

describe('olderThanSince', () => {
  it('reads a folded Date header; no date is never older', () => {
    expect(olderThanSince('Subject: x\r\nDate: Mon, 1 Jan 2024\r\n 10:00:00 +0000\r\n', '2024-06-01')).toBe(true);
    expect(olderThanSince('Date: Mon, 1 Jul 2024 10:00:00 +0000\r\n', '2024-06-01')).toBe(false);
    expect(olderThanSince('Subject: none\r\n', '2024-06-01')).toBe(false);
    expect(olderThanSince('Date: garbage\r\n', '2024-06-01')).toBe(false);
  });
});
