// Which replica polls which mailbox (pure). Rendezvous (highest-random-weight) hashing over the live
// members gives every mailbox an order of preference over the members, the same on every replica;
// plain rendezvous (each mailbox to its first choice) is uneven with few mailboxes (4 can split 4:0
// over 2 members), so the owners are a bounded-load assignment (balancedOwners): no member takes more
// than ceil(mailboxes / members); a mailbox stays with its current holder while the holder is within
// that bound, and the rest go, by the same weights, to the first member in their order with room.
// Every replica computes the same owners from the same members and lease table, and a member
// joining or leaving moves only what it must: the newcomer's share, or the leaver's mailboxes.
// The lease is what makes ownership safe (lease.ts); this only says who should hold it.
import { createHash } from 'node:crypto';

function weight(member: string, mailbox: string): bigint {
  return createHash('sha256').update(member).update('\0').update(mailbox).digest().readBigUInt64BE(0);
}

/** The member that should poll `mailbox`, or null when there is none. Ties (never in practice) go to the smaller id. */
export function rendezvousOwner(mailbox: string, members: readonly string[]): string | null {
  let best: string | null = null;
  let bestW = -1n;
  for (const m of members) {
    const w = weight(m, mailbox);
    if (w > bestW || (w === bestW && best !== null && m < best)) (best = m), (bestW = w);
  }
  return best;
}

/**
 * The owner of every mailbox (pure): a bounded-load rendezvous assignment that moves only what it must.
 * Each member holds at most cap = ceil(mailboxes / members).
 *  - A mailbox held now (`holders`: live, unexpired leases) stays with its holder while the holder
 *    is within cap; a holder over cap (a member joined, so cap fell) keeps the ones it weighs highest
 *    and gives up the rest. A holder that is not a live member keeps its mailboxes until its lease
 *    expires (nobody else may take them before).
 *  - The other mailboxes (free, expired, given up) propose to the members in their rendezvous
 *    order; a member over its remaining room keeps those it weighs highest and turns the weakest
 *    away, which proposes to its next choice (deferred acceptance: the mailbox-optimal stable
 *    matching, the same whatever the order of the inputs).
 * Without holders (a cold start) this is the stateless assignment, which with room for every
 * mailbox's first choice is plain rendezvous hashing. Empty when there are no members.
 */
export function balancedOwners(mailboxes: readonly string[], members: readonly string[], holders: ReadonlyMap<string, string> = new Map()): Map<string, string> {
  const owners = new Map<string, string>();
  const ms = [...new Set(members)].sort();
  const boxes = [...new Set(mailboxes)].sort();
  if (ms.length === 0 || boxes.length === 0) return owners;
  const cap = Math.ceil(boxes.length / ms.length);
  const memo = new Map<string, bigint>();
  const w = (m: string, b: string) => {
    const k = `${m}\0${b}`;
    let v = memo.get(k);
    if (v === undefined) memo.set(k, (v = weight(m, b)));
    return v;
  };
  /** `member` would rather hold mailbox a than b (ties, never in practice, to the smaller name) */
  const prefers = (member: string, a: string, b: string) => {
    const d = cmpDesc(w(member, a), w(member, b));
    return d < 0 || (d === 0 && a < b);
  };
  const seats = new Map(ms.map((m) => [m, [] as string[]]));
  const free: string[] = [];
  const live = new Set(ms);
  for (const b of boxes) {
    const h = holders.get(b);
    if (h === undefined) free.push(b);
    else if (live.has(h)) seats.get(h)!.push(b);
    else owners.set(b, h); // a holder that left without giving it up: its until the lease expires
  }
  // holders within cap keep what they hold; one over cap keeps the ones it weighs highest
  const fixed = new Map<string, number>();
  for (const [m, held] of seats) {
    held.sort((a, b) => (prefers(m, a, b) ? -1 : 1));
    free.push(...held.splice(cap));
    fixed.set(m, held.length);
  }
  const room = (m: string) => cap - fixed.get(m)!;
  const prefs = (b: string) => ms.filter((m) => room(m) > 0).sort((x, y) => cmpDesc(w(x, b), w(y, b)) || (x < y ? -1 : 1));
  const order = new Map<string, string[]>();
  const next = new Map<string, number>();
  const taken = new Map(ms.map((m) => [m, [] as string[]]));
  const queue = [...free].sort().reverse();
  while (queue.length) {
    const box = queue.pop()!;
    if (!order.has(box)) order.set(box, prefs(box));
    const i = next.get(box) ?? 0;
    next.set(box, i + 1);
    const member = order.get(box)![i];
    if (member === undefined) continue; // no room anywhere: cannot happen (room ≥ mailboxes), left unassigned
    const got = taken.get(member)!;
    got.push(box);
    if (got.length > room(member)) {
      let weakest = 0;
      for (let k = 1; k < got.length; k++) if (prefers(member, got[weakest]!, got[k]!)) weakest = k;
      queue.push(got.splice(weakest, 1)[0]!);
    }
  }
  for (const m of ms) for (const b of [...seats.get(m)!, ...taken.get(m)!]) owners.set(b, m);
  return owners;
}

/** bigint order, highest first */
function cmpDesc(a: bigint, b: bigint): number {
  return a > b ? -1 : a < b ? 1 : 0;
}

export interface HeldLease {
  mailbox: string;
  /** null: released */
  owner: string | null;
  /** epoch ms */
  expiresAt: number;
}

export interface LeasePlanInput {
  self: string;
  /** live members, self included */
  members: readonly string[];
  /** the mailboxes to poll (enabled, with an inbound side) */
  mailboxes: readonly string[];
  /** every lease row the store has */
  leases: readonly HeldLease[];
  now: number;
}

export interface LeasePlan {
  /** free or expired, and this member should own it: take it (a new epoch) */
  acquire: string[];
  /** held by this member and still wanted: renew */
  renew: string[];
  /** held by this member but another member should own it, or no longer polled: let go */
  release: string[];
}

export function planLeases(input: LeasePlanInput): LeasePlan {
  const { self, members, now } = input;
  const byMailbox = new Map(input.leases.map((l) => [l.mailbox, l]));
  const wanted = new Set(input.mailboxes);
  // who holds what now (live, unexpired leases): they keep it while within the bound
  const holders = new Map(input.leases.filter((l) => l.owner !== null && l.expiresAt > now).map((l) => [l.mailbox, l.owner!]));
  const owners = balancedOwners(input.mailboxes, members, holders);
  const plan: LeasePlan = { acquire: [], renew: [], release: [] };
  for (const mailbox of input.mailboxes) {
    const owner = owners.get(mailbox) ?? null;
    const lease = byMailbox.get(mailbox);
    const mine = lease?.owner === self && lease.expiresAt > now;
    if (owner === self) {
      if (mine) plan.renew.push(mailbox);
      else if (!lease || lease.owner === null || lease.expiresAt <= now) plan.acquire.push(mailbox);
      // else: another member still holds it (it will release it, or its lease expires)
    } else if (mine) {
      // Another live member should own it (it joined): hand over; it takes the lease on its next round.
      plan.release.push(mailbox);
    }
  }
  for (const l of input.leases) if (l.owner === self && l.expiresAt > now && !wanted.has(l.mailbox)) plan.release.push(l.mailbox);
  return plan;
}

/**
 * Whether acquiring a mailbox whose lease row is `lease` takes it over from a holder that never let
 * go (expired: it died, was paused or partitioned; or this replica's own earlier life under the same
 * id) rather than taking a free one (no row yet, or released on SIGTERM or a rebalance).
 */
export function isTakeover(lease: Pick<HeldLease, 'owner'> | undefined): boolean {
  return lease !== undefined && lease.owner !== null;
}

/**
 * A poller must stop before its lease can expire unrenewed: with the last successful renewal at
 * `renewedAt` and a lease of `ttlMs`, polling (and any commit) stops `marginMs` before expiry.
 */
export function leaseStillSafe(renewedAt: number, ttlMs: number, marginMs: number, now: number): boolean {
  return now < renewedAt + ttlMs - marginMs;
}
