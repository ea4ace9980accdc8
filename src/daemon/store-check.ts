// Why this file exists: readiness gated on a working store. Every `intervalMs` the daemon pings its
// store (PostgreSQL: SELECT 1, bounded by `timeoutMs`); a failure marks the replica not ready with
// the reason (so a load balancer or Kubernetes takes it out of service) and mailroom_store_up 0, a
// success marks it ready again: nothing to restart. One ping at a time: a slow one is not stacked.
import type { Logger } from '../observability/logger.js';

export interface StoreCheckDeps {
  ping: (timeoutMs: number) => Promise<void>;
  /** up: the last ping succeeded; reason: why not (no secret: the store's errors carry none). */
  onChange: (up: boolean, reason: string | null) => void;
  log: Logger;
  intervalMs: number;
  timeoutMs: number;
}

export const DEFAULT_STORE_CHECK_MS = 5_000;
export const DEFAULT_STORE_PING_TIMEOUT_MS = 2_000;

export class StoreCheck {
  #timer: NodeJS.Timeout | null = null;
  #up = true;
  #stopped = false;

  constructor(private readonly deps: StoreCheckDeps) {}

  start(): void {
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.check().finally(() => this.#schedule()), this.deps.intervalMs);
    this.#timer.unref?.();
  }

  /** One check now; the outcome is reported when it differs from the last one. */
  async check(): Promise<void> {
    let reason: string | null = null;
    try {
      await this.deps.ping(this.deps.timeoutMs);
    } catch (e) {
      reason = `store unreachable: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (this.#stopped) return;
    const up = reason === null;
    if (up === this.#up) {
      if (!up) this.deps.onChange(false, reason); // keep the reason current
      return;
    }
    this.#up = up;
    if (up) this.deps.log.info('store reachable again: ready');
    else this.deps.log.warn({ reason }, 'store unreachable: not ready until it answers again');
    this.deps.onChange(up, reason);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}
