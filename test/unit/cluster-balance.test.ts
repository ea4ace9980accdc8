// Why this file exists: who polls which mailbox (pure): even spread, minimal moves, lease plans.
import { describe, expect, it } from 'vitest';
import { balancedOwners, isTakeover, leaseStillSafe, planLeases, rendezvousOwner } from '../../src/cluster/balance.js';

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
    // y: free (its holder's lease expired), a's first choice; x: a's; z: b's, live
    const y = boxes.find((b) => rendezvousOwner(b, ['a', 'b']) === 'a')!;
    const [x, z] = boxes.filter((b) => b !== y);
    const plan = planLeases({
      self: 'a', members: ['a', 'b'], mailboxes: [x!, y, z!], now,
      leases: [{ mailbox: x!, owner: 'a', expiresAt: now + 5000 }, { mailbox: y, owner: 'gone', expiresAt: now - 1 }, { mailbox: z!, owner: 'b', expiresAt: now + 5000 }],
    });
    expect(plan).toEqual({ acquire: [y], renew: [x], release: [] });
  });
  it('a holder keeps what it holds within the bound, whatever rendezvous alone would say', () => {
    const theirs = boxes.filter((b) => rendezvousOwner(b, ['a', 'b']) === 'b').slice(0, 2);
    const plan = planLeases({ self: 'a', members: ['a', 'b'], mailboxes: [...theirs, 'other-1', 'other-2'], now, leases: theirs.map((m) => ({ mailbox: m, owner: 'a', expiresAt: now + 5000 })) });
    expect(plan.renew.sort()).toEqual([...theirs].sort());
    expect(plan.release).toEqual([]);
    expect(plan.acquire).toEqual([]); // a is at its bound (2 of 4): the others are b's
  });
  it('hands over what a joined member should own (the holder is over the bound), and lets go of mailboxes no longer polled', () => {
    const [p, q] = boxes;
    // alone, a held both; b joined: at most 1 each, a keeps the one it weighs higher
    const keep = [...balancedOwners([p!, q!], ['a', 'b'], new Map([[p!, 'a'], [q!, 'a']]))].find(([, o]) => o === 'a')![0];
    const plan = planLeases({ self: 'a', members: ['a', 'b'], mailboxes: [p!, q!], now, leases: [{ mailbox: p!, owner: 'a', expiresAt: now + 5000 }, { mailbox: q!, owner: 'a', expiresAt: now + 5000 }, { mailbox: 'removed', owner: 'a', expiresAt: now + 5000 }] });
    expect(plan.renew).toEqual([keep]);
    expect(plan.release.sort()).toEqual(['removed', keep === p ? q : p].sort());
    // and b waits for it while a still holds it, then takes it once released
    const gone = keep === p ? q! : p!;
    const b = planLeases({ self: 'b', members: ['a', 'b'], mailboxes: [p!, q!], now, leases: [{ mailbox: keep, owner: 'a', expiresAt: now + 5000 }, { mailbox: gone, owner: 'a', expiresAt: now + 5000 }] });
    expect(b.acquire).toEqual([]);
    const b2 = planLeases({ self: 'b', members: ['a', 'b'], mailboxes: [p!, q!], now, leases: [{ mailbox: keep, owner: 'a', expiresAt: now + 5000 }, { mailbox: gone, owner: null, expiresAt: now }] });
    expect(b2.acquire).toEqual([gone]);
  });
  it('waits for a holder that left without giving a mailbox up until its lease expires', () => {
    const plan = planLeases({ self: 'a', members: ['a'], mailboxes: ['m'], now, leases: [{ mailbox: 'm', owner: 'vanished', expiresAt: now + 1 }] });
    expect(plan).toEqual({ acquire: [], renew: [], release: [] });
    expect(planLeases({ self: 'a', members: ['a'], mailboxes: ['m'], now: now + 1, leases: [{ mailbox: 'm', owner: 'vanished', expiresAt: now + 1 }] }).acquire).toEqual(['m']);
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

describe('balancedOwners (bounded-load rendezvous)', () => {
  const pods = (seed: number, k: number) => Array.from({ length: k }, (_, i) => `mailroom-${seed.toString(36)}-${i}`);
  const mailboxes = (seed: number, n: number) => Array.from({ length: n }, (_, i) => `box-${seed}-${i}`);
  const loads = (owners: Map<string, string>) => {
    const l = new Map<string, number>();
    for (const m of owners.values()) l.set(m, (l.get(m) ?? 0) + 1);
    return l;
  };
  const moved = (a: Map<string, string>, b: Map<string, string>) => [...a.keys()].filter((x) => a.get(x) !== b.get(x)).length;

  it('4 mailboxes over 2 replicas: 2 each, where plain rendezvous puts all 4 on one', () => {
    // a pair of replica ids for which plain rendezvous hashing splits these 4 mailboxes 4:0
    const boxes = ['billing', 'sales', 'support', '@outbox'];
    let pair: string[] | null = null;
    for (let s = 0; !pair; s++) if (new Set(boxes.map((b) => rendezvousOwner(b, pods(s, 2)))).size === 1) pair = pods(s, 2);
    expect([...loads(balancedOwners(boxes, pair)).values()]).toEqual([2, 2]);
  });

  it('is the same whatever the order of its inputs, and empty without members', () => {
    const boxes = mailboxes(1, 10);
    const a = balancedOwners(boxes, ['r1', 'r2', 'r3']);
    const b = balancedOwners([...boxes].reverse(), ['r3', 'r1', 'r2']);
    expect([...b].sort()).toEqual([...a].sort());
    expect(a.size).toBe(10);
    expect(balancedOwners(boxes, []).size).toBe(0);
    expect(balancedOwners(['only'], ['r1', 'r2', 'r3']).size).toBe(1);
  });

  it('with room for every first choice it is plain rendezvous', () => {
    const boxes = mailboxes(2, 30);
    const owners = balancedOwners(boxes, ['r1']);
    for (const b of boxes) expect(owners.get(b)).toBe('r1');
    // 2 mailboxes, 2 members, different first choices: each keeps its first choice
    const [x, y] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `b${i}`).filter((b, _, all) => rendezvousOwner(b, ['r1', 'r2']) === 'r1' || b === all.find((c) => rendezvousOwner(c, ['r1', 'r2']) === 'r2'));
    const two = balancedOwners([x!, y!], ['r1', 'r2']);
    for (const b of [x!, y!]) expect(two.get(b)).toBe(rendezvousOwner(b, ['r1', 'r2']));
  });

  it('a holder within the bound keeps its mailboxes; one over it keeps those it weighs highest', () => {
    const boxes10 = mailboxes(3, 10);
    const held = new Map(boxes10.map((b) => [b, 'r1'])); // r1 alone held all 10
    const owners = balancedOwners(boxes10, ['r1', 'r2', 'r3'], held);
    expect(loads(owners).get('r1')).toBe(4); // ceil(10/3)
    expect(Math.max(...loads(owners).values())).toBeLessThanOrEqual(4);
    // the 4 it kept are those it weighs highest: the same as r1 alone ranks them
    const ranked = [...boxes10].sort((a, b) => (balancedOwners([a, b], ['r1', 'x'], new Map([[a, 'r1'], [b, 'r1']])).get(a) === 'r1' ? -1 : 1));
    expect([...owners].filter(([, o]) => o === 'r1').map(([b]) => b).sort()).toEqual(ranked.slice(0, 4).sort());
  });

  // Over many sets of pod ids, as the replicas run it (the current holders carry over): the maximum
  // load, and the moves when a 4th replica joins (3→4) or one of 4 leaves (4→3), against the least
  // any assignment within the bound must move: on a join what the others hold above the new bound,
  // on a leave what the leaver held.
  for (const n of [4, 10, 300]) {
    it(`${n} mailboxes: at most ceil(n/m) per replica; a join or a leave moves only what it must`, () => {
      const SEEDS = n === 300 ? 40 : 200;
      const stats = { join: { moves: 0, least: 0 }, leave: { moves: 0, least: 0 } };
      let plainWorst = 0;
      for (let s = 0; s < SEEDS; s++) {
        const four = pods(s, 4);
        const three = four.slice(0, 3);
        const boxes = mailboxes(s, n);
        const before = balancedOwners(boxes, three); // a cold start
        const joined = balancedOwners(boxes, four, before);
        const left = balancedOwners(boxes, three, new Map([...joined].filter(([, o]) => o !== four[3])));
        for (const [owners, m] of [[before, 3], [joined, 4], [left, 3]] as const) {
          expect(owners.size).toBe(n);
          expect(Math.max(...loads(owners).values())).toBeLessThanOrEqual(Math.ceil(n / m));
        }
        plainWorst = Math.max(plainWorst, ...loads(new Map(boxes.map((b) => [b, rendezvousOwner(b, three)!]))).values());
        const joinLeast = [...loads(before).values()].reduce((sum, l) => sum + Math.max(0, l - Math.ceil(n / 4)), 0);
        const leaveLeast = loads(joined).get(four[3]!) ?? 0;
        for (const [k, moves, least] of [['join', moved(before, joined), joinLeast], ['leave', moved(joined, left), leaveLeast]] as const) {
          expect(moves, `${k} n=${n} seed ${s}`).toBe(least);
          stats[k].moves += moves;
          stats[k].least += least;
        }
      }
      console.log(
        `balance n=${n} over ${SEEDS} id sets: max load ≤ ceil(n/m) = ${Math.ceil(n / 3)} on 3, ${Math.ceil(n / 4)} on 4 (plain rendezvous: up to ${plainWorst} on 3); ` +
          `moves 3→4 avg ${(stats.join.moves / SEEDS).toFixed(2)}, 4→3 avg ${(stats.leave.moves / SEEDS).toFixed(2)} (each the least possible)`,
      );
    });
  }
});
