// Why this file exists: an fsync costs milliseconds, and many pollers commit at once. Group commit lets
// every change applied in memory while a flush is running (or within the same tick) share the next
// durable write: one write per touched file per cycle, and each caller's promise resolves only after
// the cycle that contains its change is on disk. Cycles run strictly one after another, so a caller
// resolved in cycle N knows everything applied before it is durable too.
import { writeDurableBatch, type DurableWrite } from './durable-file.js';
import { StoreError } from './types.js';

export interface FlushPlan {
  /** written in order: phase k is durable before any file of phase k+1 is renamed into place */
  phases: DurableWrite[][];
  /** called after the plan is durable, before waiters resolve */
  onDurable?: () => void;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter {
  #waiters: Waiter[] = [];
  #running: Promise<void> | null = null;
  #scheduled = false;
  #broken: unknown = null;
  flushes = 0;
  fileWrites = 0;
  waitersServed = 0;

  /**
   * @param plan snapshots ALL dirty state synchronously (so a flush never mixes in changes applied while
   *   it is writing) and returns what to write.
   */
  constructor(private readonly plan: () => FlushPlan) {}

  get broken(): unknown {
    return this.#broken;
  }

  /** Resolves once everything applied in memory before this call is durable. */
  wait(): Promise<void> {
    if (this.#broken !== null) return Promise.reject(this.#brokenError());
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves when nothing is queued or being written. */
  async idle(): Promise<void> {
    while (this.#running || this.#scheduled || this.#waiters.length > 0) {
      if (this.#running) await this.#running.catch(() => undefined);
      else await new Promise<void>((r) => setImmediate(r));
    }
  }

  #brokenError(): Error {
    const cause = this.#broken;
    return new StoreError('failed', `store is failed after a write error, reopen it: ${(cause as Error)?.message ?? String(cause)}`);
  }

  #schedule(): void {
    if (this.#running || this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate: let every commit issued in this turn of the event loop join the first cycle
    setImmediate(() => {
      this.#scheduled = false;
      this.#running = this.#loop().finally(() => {
        this.#running = null;
        if (this.#waiters.length > 0) this.#schedule();
      });
    });
  }

  async #loop(): Promise<void> {
    while (this.#waiters.length > 0) {
      const batch = this.#waiters;
      this.#waiters = [];
      if (this.#broken !== null) {
        for (const w of batch) w.reject(this.#brokenError());
        continue;
      }
      try {
        const { phases, onDurable } = this.plan();
        const files = phases.reduce((n, p) => n + p.length, 0);
        if (files > 0) {
          await writeDurableBatch(phases);
          this.flushes++;
          this.fileWrites += files;
        }
        onDurable?.();
        this.waitersServed += batch.length;
        for (const w of batch) w.resolve();
      } catch (e) {
        // Fail-stop: memory now holds changes the disk may not; the only safe recovery is a reopen,
        // which rebuilds state from what is durable. Nothing unacknowledged was promised to anyone.
        this.#broken = e;
        for (const w of batch) w.reject(e);
      }
    }
  }
}
