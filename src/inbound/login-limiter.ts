// Why this file exists: every mailbox on one server host shares that host's login rate (providers
// limit logins per client IP). One limiter per daemon, a bucket per host; the schedule is pure
// (pacing.ts), this only keeps the buckets and sleeps. The rate is read at each login, so a reload
// that changes defaults.inbound.loginsPerSecond applies to the next login.
import type { InboundPacing } from '../config/snapshot.js';
import { reserveLogin, type LoginBucket } from './pacing.js';
import { abortableSleep } from './session.js';

export class LoginLimiter {
  private buckets = new Map<string, LoginBucket>();

  constructor(private pacing: () => Pick<InboundPacing, 'loginsPerSecond' | 'loginBurst'>, private now: () => number = Date.now) {}

  /** Wait for this host's turn (resolves at once on abort); returns how long it waited (ms). */
  async acquire(host: string, signal: AbortSignal): Promise<number> {
    const key = host.toLowerCase();
    const now = this.now();
    const { waitMs, bucket } = reserveLogin(this.buckets.get(key), now, this.pacing());
    this.buckets.set(key, bucket);
    this.forgetFull(now);
    if (waitMs > 0) await abortableSleep(waitMs, signal);
    return waitMs;
  }

  /** Buckets that are full again hold nothing worth keeping (a host whose mailboxes all went). */
  private forgetFull(now: number): void {
    if (this.buckets.size < 64) return;
    for (const [k, b] of this.buckets) if (b.fullAt <= now) this.buckets.delete(k);
  }
}
