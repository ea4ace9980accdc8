// Why this file exists: a fleet of mailboxes must connect politely. The pure schedule of when each
// mailbox logs in and wakes: a token bucket per server host (logins no faster than the configured
// rate), a start-up spread for a batch of mailboxes, and a stable phase per mailbox so periodic
// syncs and IDLE refreshes of a thousand mailboxes do not fall into the same second.
import { createHash } from 'node:crypto';
import type { InboundPacing } from '../config/snapshot.js';

/** A mailbox's stable phase in [0, 1): the same id always gets the same share of any window. */
export function phaseOf(id: string): number {
  return createHash('sha1').update(id).digest().readUInt32BE(0) / 2 ** 32;
}

/** One host's bucket: the time (ms) at which it is full again; logins reserved ahead push it later. */
export interface LoginBucket {
  /** when the bucket would hold loginBurst tokens again if nobody took one meanwhile */
  fullAt: number;
}

/**
 * Reserve one login on a host (GCRA form of a token bucket): returns how long to wait before logging
 * in and the bucket after the reservation. Up to `burst` logins go at once; after that one every
 * 1/rate seconds. Reservations are made in the order asked, so waiting logins keep their turn.
 */
export function reserveLogin(bucket: LoginBucket | undefined, now: number, pacing: Pick<InboundPacing, 'loginsPerSecond' | 'loginBurst'>): { waitMs: number; bucket: LoginBucket } {
  const interval = 1000 / pacing.loginsPerSecond;
  const window = interval * pacing.loginBurst;
  const fullAt = Math.max(bucket?.fullAt ?? now, now);
  // the login may start once the bucket has room for one more: fullAt - window <= start
  const start = Math.max(now, fullAt + interval - window);
  return { waitMs: Math.max(0, Math.round(start - now)), bucket: { fullAt: fullAt + interval } };
}

/**
 * The first login of a mailbox started in a batch of `batchSize` waits a stable share of a window:
 * the time the host rate needs for the batch beyond the burst, capped at startSpread. A few
 * mailboxes (within the burst) start at once; a thousand spread over the window, not one second.
 */
export function startDelayMs(id: string, batchSize: number, pacing: InboundPacing): number {
  const beyond = Math.max(0, batchSize - pacing.loginBurst);
  const window = Math.min(pacing.startSpreadMs, (beyond * 1000) / pacing.loginsPerSecond);
  return Math.round(phaseOf(id) * window);
}

/**
 * How long to wait for the next periodic sync (or IDLE refresh) of a mailbox: until its next phase
 * tick, the instants `phase * interval + k * interval`. Every mailbox keeps its own slot however long
 * its syncs take, so a fleet's syncs stay spread over the interval. A tick closer than half an
 * interval (a sync just ran because mail arrived) is skipped for the one after it.
 */
export function nextTickDelayMs(now: number, intervalMs: number, phase: number): number {
  if (!(intervalMs > 0)) return 0;
  const offset = phase * intervalMs;
  const since = (((now - offset) % intervalMs) + intervalMs) % intervalMs;
  const delay = intervalMs - since;
  return Math.round(delay < intervalMs / 2 ? delay + intervalMs : delay);
}
