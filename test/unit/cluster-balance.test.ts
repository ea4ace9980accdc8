// Why this file exists: who polls which mailbox (pure): even spread, minimal moves, lease plans.
import { describe, expect, it } from 'vitest';
import { isTakeover, leaseStillSafe, planLeases, rendezvousOwner } from '../../src/cluster/balance.js';

const boxes = Array.from({ length: 300 }, (_, i) => `box-${i}`);

describe('rendezvousOwner', () => {
  it('spreads mailboxes evenly over members', () => {
    const counts = new Map<string, number>();
    for (const b of boxes) counts.set(rendezvousOwner(b, ['a', 'b', 'c'])!, (counts.get(rendezvousOwner(b, ['a', 'b', 'c'])!) ?? 0) + 1);
    for (const n of counts.values()) expect(n).toBeGreaterThan(70); // 100 ± 30
    expect(rendezvousOwner('x', [])).toBeNull();
  });
  it('a member joining takes only mailboxes it wins; one leaving moves only its own', () => {
    const before = new Map(boxes.map((b) => [b, rendezvousOwner(b, ['a', 'b', 'c'])]));
    const joined = new Map(boxes.map((b) => [b, rendezvousOwner(b, ['a', 'b', 'c', 'd'])]));
    for (const b of boxes) if (joined.get(b) !== before.get(b)) expect(joined.get(b)).toBe('d');
    const left = new Map(boxes.map((b) => [b, rendezvousOwner(b, ['a', 'c'])]));
    for (const b of boxes) if (left.get(b) !== before.get(b)) expect(before.get(b)).toBe('b');
    expect(rendezvousOwner('box-1', ['c', 'a', 'b'])).toBe(before.get('box-1'));
  });
});

describe('planLeases', () => {
  const now = 1_000_000;
  it('takes free and expired leases it should own, renews its own, waits for live holders', () => {
    const mine = boxes.filter((b) => rendezvousOwner(b, ['a', 'b']) === 'a').slice(0, 3);
    const plan = planLeases({
      self: 'a', members: ['a', 'b'], mailboxes: mine, now,
      leases: [{ mailbox: mine[0]!, owner: 'a', expiresAt: now + 5000 }, { mailbox: mine[1]!, owner: 'gone', expiresAt: now - 1 }, { mailbox: mine[2]!, owner: 'b', expiresAt: now + 5000 }],
    });
    expect(plan).toEqual({ acquire: [mine[1]], renew: [mine[0]], release: [] });
  });
  it('hands over what a joined member should own, and lets go of mailboxes no longer polled', () => {
    const theirs = boxes.find((b) => rendezvousOwner(b, ['a', 'b']) === 'b')!;
    const plan = planLeases({ self: 'a', members: ['a', 'b'], mailboxes: [theirs], now, leases: [{ mailbox: theirs, owner: 'a', expiresAt: now + 5000 }, { mailbox: 'removed', owner: 'a', expiresAt: now + 5000 }] });
    expect(plan.release.sort()).toEqual(['removed', theirs].sort());
  });
});

describe('leaseStillSafe', () => {
  it('stops polling a margin before the lease could expire unrenewed', () => {
    expect(leaseStillSafe(0, 15_000, 3_000, 11_999)).toBe(true);
    expect(leaseStillSafe(0, 15_000, 3_000, 12_000)).toBe(false);
  });
});

describe('isTakeover', () => {
  it('a lease row whose holder never let go is a takeover; no row or a released one is free', () => {
    expect(isTakeover(undefined)).toBe(false);
    expect(isTakeover({ owner: null })).toBe(false);
    expect(isTakeover({ owner: 'gone' })).toBe(true);
    expect(isTakeover({ owner: 'self' })).toBe(true); // this replica's earlier life under the same id
  });
});
