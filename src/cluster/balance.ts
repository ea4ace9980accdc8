// Which replica polls which mailbox (pure). Rendezvous (highest-random-weight) hashing over the live
// members: every replica computes the same owner for a mailbox from the same member list, and when a
// member joins or leaves only the mailboxes it wins or held move (about 1/N of them), the rest stay.
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
  const plan: LeasePlan = { acquire: [], renew: [], release: [] };
  for (const mailbox of input.mailboxes) {
    const owner = rendezvousOwner(mailbox, members);
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
