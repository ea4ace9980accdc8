// Why this file exists: an fsync costs milliseconds, and many callers write at once. Group commit lets
// every change made while a cycle is running (or within the same tick) share the next durable write,
// and each caller's promise resolves only after a cycle that began after its change is done. Cycles
// run strictly one after another, so a caller resolved in cycle N knows everything applied before it
// is durable too. One primitive for the store's three writers: the ticket store (segments, meta,
// UIDLs), the webhook journal and the outbox journal.
//
// Fail-stop: after a failed cycle nothing is retried (a failed fsync may have dropped dirty pages: the
// disk's state is unknown) and every later wait() rejects; the owner reopens, which rebuilds state
// from what is durable. Nothing unacknowledged was promised to anyone.
import { writeDurableBatch, type DurableWrite } from './durable-file.js';
import { StoreError } from './types.js';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  #waiters: Waiter[] = [];
  #running: Promise<void> | null = null;
  #scheduled = false;
  #kicked = false;
  #broken: unknown = null;
  cycles = 0;
  waitersServed = 0;

  /**
   * @param cycle takes what is to be written SYNCHRONOUSLY at its start (so a cycle never mixes in
   *   changes made while it writes), then writes it durably.
   * @param pending more work without a waiter (e.g. a compaction asked for); keeps cycles coming.
   * @param brokenError the error later callers get once a cycle failed.
   */
  constructor(
    private readonly cycle: () => Promise<void>,
    private readonly opts: { pending?: () => boolean; brokenError?: (cause: unknown) => Error } = {},
  ) {}

  get broken(): unknown {
    return this.#broken;
  }

  /** Mark the writer failed from outside (e.g. a synchronous write beside the cycles failed). */
  fail(cause: unknown): void {
    this.#broken ??= cause;
  }

  /** Resolves once everything applied in memory before this call is durable. */
  wait(): Promise<void> {
    if (this.#broken !== null) return Promise.reject(this.#brokenError());
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  /** Run a cycle soon without waiting for it (work the owner queued itself). */
  kick(): void {
    if (this.#broken !== null) return;
    this.#kicked = true;
    this.#schedule();
  }

  /** Resolves when nothing is queued or being written (or the writer is broken). */
  async idle(): Promise<void> {
    while (this.#broken === null && (this.#running || this.#scheduled || this.#work())) {
      if (this.#running) await this.#running.catch(() => undefined);
      else await new Promise<void>((r) => setImmediate(r));
    }
  }

  #work(): boolean {
    return this.#waiters.length > 0 || this.#kicked || (this.opts.pending?.() ?? false);
  }

  #brokenError(): Error {
    const cause = this.#broken;
    return this.opts.brokenError?.(cause) ?? new StoreError('failed', `store is failed after a write error, reopen it: ${(cause as Error)?.message ?? String(cause)}`);
  }

  #schedule(): void {
    if (this.#running || this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate: every change made in this turn of the event loop joins the first cycle
    setImmediate(() => {
      this.#scheduled = false;
      this.#running = this.#loop().finally(() => {
        this.#running = null;
        if (this.#broken === null && this.#work()) this.#schedule();
      });
    });
  }

  async #loop(): Promise<void> {
    while (this.#work()) {
      const batch = this.#waiters;
      this.#waiters = [];
      this.#kicked = false;
      if (this.#broken !== null) {
        for (const w of batch) w.reject(this.#brokenError());
        return;
      }
      try {
        await this.cycle();
        this.cycles++;
        this.waitersServed += batch.length;
        for (const w of batch) w.resolve();
      } catch (e) {
        this.#broken = e;
        for (const w of batch) w.reject(e);
        return;
      }
    }
  }
}

export interface FlushPlan {
  /** written in order: phase k is durable before any file of phase k+1 is renamed into place */
  phases: DurableWrite[][];
  /** called after the plan is durable, before waiters resolve */
  onDurable?: () => void;
}

/** The ticket store's cycle: rewrite the dirty files of a plan, phase by phase, counting the I/O. */
export class FileGroupCommit extends GroupCommit {
  flushes = 0;
  fileWrites = 0;

  constructor(plan: () => FlushPlan) {
    super(async () => {
      const { phases, onDurable } = plan();
      const files = phases.reduce((n, p) => n + p.length, 0);
      if (files > 0) {
        await writeDurableBatch(phases);
        this.flushes++;
        this.fileWrites += files;
      }
      onDurable?.();
    });
  }
}
