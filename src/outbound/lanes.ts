// Per-mailbox lanes of the outbox and the timers around them: the ready queue, the batch window
// (`batchWindow: 2s` groups new mail and releases it every 2 s, as the platforms mailroom replaces
// do), the rate limit (`maxPerMinute`, a sliding minute), the pause after a failure, and the heap of
// messages waiting for their retry time. The outbox (outbox.ts) decides; this file only keeps time.
import type { ResolvedOutbound } from '../config/snapshot.js';

export interface Lane {
  key: string;
  label: string;
  server: ResolvedOutbound;
  queue: string[];
  head: number;
  batch: string[];
  batchTimer: NodeJS.Timeout | null;
  inFlight: number;
  pausedUntil: number;
  /** when the lane was last paused (attempts begun before then belong to that round) */
  pausedAt: number | null;
  /** consecutive rounds of connection/mailbox failures (the lane pause grows with it) */
  failures: number;
  /** start times of sends in the last minute (maxPerMinute) */
  starts: number[];
  wake: NodeJS.Timeout | null;
  lastUsed: number;
}

interface Hooks {
  pump(lane: Lane): void;
  due(id: string): void;
  idleDrop(key: string): void;
}

const IDLE_LANE_MS = 5 * 60_000;

export class Lanes {
  readonly #lanes = new Map<string, Lane>();
  readonly #heap: { at: number; id: string }[] = [];
  #heapTimer: NodeJS.Timeout | null = null;
  #heapAt = Infinity;
  #sweep: NodeJS.Timeout;
  #stopped = false;

  constructor(private readonly hooks: Hooks) {
    this.#sweep = setInterval(() => this.#dropIdle(), 60_000);
    this.#sweep.unref();
  }

  get(key: string, label: string, server: ResolvedOutbound): Lane {
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { key, label, server, queue: [], head: 0, batch: [], batchTimer: null, inFlight: 0, pausedUntil: 0, pausedAt: null, failures: 0, starts: [], wake: null, lastUsed: Date.now() };
      this.#lanes.set(key, lane);
    }
    lane.server = server; // same connection settings; batchWindow / maxPerMinute may have been reloaded
    return lane;
  }

  /** Queue a due message; a first attempt waits for the lane's batch window when it has one. */
  enqueue(lane: Lane, id: string, fresh: boolean): void {
    lane.lastUsed = Date.now();
    if (fresh && lane.server.batchWindowMs > 0) {
      lane.batch.push(id);
      lane.batchTimer ??= setTimeout(() => {
        lane.batchTimer = null;
        lane.queue.push(...lane.batch);
        lane.batch = [];
        this.hooks.pump(lane);
      }, lane.server.batchWindowMs);
      return;
    }
    lane.queue.push(id);
    this.hooks.pump(lane);
  }

  /** Next message id the lane may start now, or null (empty, paused or rate-limited: a wake-up is armed). */
  take(lane: Lane): string | null {
    if (lane.head >= lane.queue.length) return null;
    const now = Date.now();
    if (now < lane.pausedUntil) return this.#wakeAt(lane, lane.pausedUntil), null;
    const max = lane.server.maxPerMinute;
    if (max) {
      while (lane.starts.length && now - lane.starts[0]! >= 60_000) lane.starts.shift();
      if (lane.starts.length >= max) return this.#wakeAt(lane, lane.starts[0]! + 60_000), null;
      lane.starts.push(now);
    }
    const id = lane.queue[lane.head++]!;
    if (lane.head > 1024 && lane.head * 2 > lane.queue.length) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    }
    lane.lastUsed = now;
    return id;
  }

  /**
   * Pause the lane after a failure of an attempt that began at `startedAt`. Attempts that were
   * already under way when the lane was last paused fail with it (one server outage, N messages on
   * pooled connections): one round, so they neither lengthen the pause nor count as more failures.
   */
  pause(lane: Lane, ms: number, startedAt: number): void {
    if (lane.pausedAt !== null && startedAt <= lane.pausedAt) return;
    lane.failures++;
    lane.pausedAt = Date.now();
    lane.pausedUntil = Math.max(lane.pausedUntil, lane.pausedAt + ms);
  }

  healthy(lane: Lane): void {
    lane.failures = 0;
    lane.pausedUntil = 0;
    lane.pausedAt = null;
  }

  /** Run hooks.due(id) at `at`. */
  later(id: string, at: number): void {
    if (this.#stopped) return;
    const h = this.#heap;
    h.push({ at, id });
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
    this.#armHeap();
  }

  stopAll(): void {
    this.#stopped = true;
    clearInterval(this.#sweep);
    if (this.#heapTimer) clearTimeout(this.#heapTimer);
    for (const lane of this.#lanes.values()) {
      if (lane.batchTimer) clearTimeout(lane.batchTimer);
      if (lane.wake) clearTimeout(lane.wake);
    }
  }

  #wakeAt(lane: Lane, at: number): void {
    if (lane.wake || this.#stopped) return;
    lane.wake = setTimeout(() => {
      lane.wake = null;
      this.hooks.pump(lane);
    }, Math.max(0, at - Date.now()));
  }

  #pop(): { at: number; id: string } | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }

  #armHeap(): void {
    const next = this.#heap[0]?.at ?? Infinity;
    if (next >= this.#heapAt && this.#heapTimer) return;
    if (this.#heapTimer) clearTimeout(this.#heapTimer);
    this.#heapAt = next;
    if (next === Infinity || this.#stopped) return void (this.#heapTimer = null);
    // Timers beyond ~24 days overflow; re-arm in steps.
    this.#heapTimer = setTimeout(() => this.#fire(), Math.min(Math.max(0, next - Date.now()), 2 ** 30));
  }

  #fire(): void {
    this.#heapTimer = null;
    this.#heapAt = Infinity;
    const now = Date.now();
    while (this.#heap.length && this.#heap[0]!.at <= now) this.hooks.due(this.#pop()!.id);
    this.#armHeap();
  }

  #dropIdle(): void {
    const now = Date.now();
    for (const [key, lane] of this.#lanes) {
      if (lane.inFlight === 0 && lane.head >= lane.queue.length && lane.batch.length === 0 && now - lane.lastUsed > IDLE_LANE_MS) {
        this.#lanes.delete(key);
        this.hooks.idleDrop(key);
      }
    }
  }
}
