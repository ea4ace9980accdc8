// Spreads parseMessage over worker_threads so ingest is not capped by one core (~0.4–0.6 ms/msg).
// Guarantees: parse() never rejects and never hangs. A worker that crashes, runs out of memory or
// exceeds the hard timeout is terminated and replaced; the message it was on resolves through the
// tolerant fallback parser ('unparsed' + 'worker-crashed'/'worker-timeout'), messages queued
// behind it on that worker are retried once elsewhere. If workers cannot even start (e.g. missing
// dist file) the pool degrades to parsing in-process.
//
// Raw bytes are copied once into a fresh ArrayBuffer which is then transferred (the caller's
// buffer is never detached, and a small view into a large buffer does not ship the whole buffer);
// the original stays here for the crash fallback. Results come back with attachment buffers
// transferred.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { parseFallback, parseMessage } from './parse.js';
import type { ParseChunk, ParseReply } from './parse-worker.js';
import type { ParsedMessage, ParseOptions } from './parsed-message.js';

export interface ParsePoolOptions {
  /** number of workers; default defaultParseWorkers(); 0 = parse in-process */
  size?: number;
  maxAttachmentBytes?: number;
  /** soft timeout inside parseMessage (default 5000 ms + 100 ms per MB) */
  timeoutMs?: number;
  /** a worker busy longer than this (+200 ms per MB) on one message is terminated (default 20000 ms) */
  hardTimeoutMs?: number;
  /** V8 old-space limit per worker, so one monstrous message kills a worker, not the daemon */
  maxWorkerMemoryMb?: number;
  /** V8 young-generation size per worker (default DEFAULT_WORKER_YOUNG_MB) */
  maxWorkerYoungMb?: number;
  /** test-only: worker crashes / spins forever on raw input starting with these markers, or never starts */
  testHooks?: { crashMarker?: string; hangMarker?: string; failStart?: boolean };
}

export interface ParsePool {
  parse(raw: Uint8Array): Promise<ParsedMessage>;
  close(): Promise<void>;
}

interface Job { id: number; raw: Uint8Array; resolve: (m: ParsedMessage) => void; retried?: boolean }
interface Slot {
  worker: Worker;
  /** sent and not answered, in the order the worker parses them */
  jobs: Job[];
  /** id of the job the worker is parsing now (0: none), written by the worker */
  progress: Int32Array;
  watchdog: NodeJS.Timeout | null;
  watched: { id: number; since: number } | null;
  ready: boolean;
  timedOut: boolean;
}

const MAX_START_FAILURES = 3;
/**
 * A parse allocates ~150 KB of short-lived objects per plain message (~780 KB with an attachment).
 * With V8's default young generation on this 2-core box a worker scavenged and promoted often
 * enough to run ~49 full collections per 10k-message bench, each dropping optimised code that
 * then had to be recompiled. 24 MB measured: ratio 0.65 → 0.72–0.74 of the raw limit for
 * +8–13 MB peak RSS (bench/ingest, 3-round medians; 16 MB gave the same ratio).
 */
export const DEFAULT_WORKER_YOUNG_MB = 24;
/** jobs per postMessage at most (a batch of 500 is ~30 messages per worker, not 250) */
const CHUNK = 16;
/** jobs in flight per worker: the next chunk is already there when one finishes */
const IN_FLIGHT = 2 * CHUNK;

/** Worker entry next to this module: compiled .js, or the .ts source loaded through tsx. */
function workerEntry(): { entry: string | URL; options: WorkerOptions } {
  const here = import.meta.url;
  if (!/\.[cm]?ts$/.test(new URL(here).pathname)) return { entry: new URL('./parse-worker.js', here), options: {} };
  // Node 20 ignores `execArgv: ['--import', 'tsx']` for a worker's own .ts entry
  // (ERR_UNKNOWN_FILE_EXTENSION), so a tiny eval bootstrap registers tsx first, then imports it.
  const tsx = resolveTsxApi(here);
  const worker = new URL('./parse-worker.ts', here).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => (m.register ?? m.default.register)())` +
    `.then(() => import(${JSON.stringify(worker)}))`;
  return { entry: code, options: { eval: true } };
}

/** tsx's ESM register API (its CJS build cannot register ESM hooks from inside a worker). */
function resolveTsxApi(here: string): string {
  try {
    if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  } catch { /* fall through */ }
  try {
    const req = createRequire(here);
    const dir = path.dirname(req.resolve('tsx/package.json'));
    return pathToFileURL(path.join(dir, 'dist/esm/api/index.mjs')).href;
  } catch {
    return 'tsx/esm/api';
  }
}

/**
 * One worker per core but one: the main thread (IMAP, deciding, committing) is the other busy thread
 * during ingest. Measured on 2 cores (bench:ingest): 1 worker ingests as fast as 2, with ~0.25 ms less
 * CPU per message and ~55 MB less peak RSS.
 */
export function defaultParseWorkers(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

export function createParsePool(options: ParsePoolOptions = {}): ParsePool {
  const parseOpts: ParseOptions = {
    ...(options.maxAttachmentBytes !== undefined ? { maxAttachmentBytes: options.maxAttachmentBytes } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  };
  const inProcess = (raw: Uint8Array): Promise<ParsedMessage> => parseMessage(raw, parseOpts);
  const size = Math.max(0, Math.floor(options.size ?? defaultParseWorkers()));
  if (size === 0) return { parse: inProcess, close: async () => {} };

  const hardTimeoutMs = options.hardTimeoutMs ?? 20_000;
  const { entry, options: entryOptions } = workerEntry();
  const slots: Slot[] = [];
  let queue: Job[] = [];
  let head = 0;
  let nextId = 1;
  let startFailures = 0;
  let degraded = false;
  let closing = false;
  let drained: (() => void) | null = null;
  let closed: Promise<void> | null = null;
  let local = 0; // in-process parses while degraded
  let pumpQueued = false;

  const spawn = (): void => {
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(entry, {
      ...entryOptions,
      workerData: { testHooks: options.testHooks ?? {}, progress: progress.buffer },
      resourceLimits: {
        maxOldGenerationSizeMb: options.maxWorkerMemoryMb ?? 1024,
        maxYoungGenerationSizeMb: options.maxWorkerYoungMb ?? DEFAULT_WORKER_YOUNG_MB,
      },
    });
    const slot: Slot = { worker, jobs: [], progress, watchdog: null, watched: null, ready: false, timedOut: false };
    slots.push(slot);
    worker.on('message', (msg: ParseReply) => {
      if (msg.ready) {
        slot.ready = true;
        startFailures = 0;
      }
      for (const r of msg.results ?? []) {
        const i = slot.jobs.findIndex((j) => j.id === r.id);
        if (i < 0) continue;
        const [job] = slot.jobs.splice(i, 1);
        job!.resolve(r.result ?? parseFallback(job!.raw, ['worker-post-failed'], parseOpts));
      }
      watch(slot);
      pump();
    });
    worker.on('messageerror', () => { void worker.terminate(); }); // treated like a crash below
    worker.on('error', () => { /* always followed by 'exit' */ });
    worker.on('exit', () => {
      slots.splice(slots.indexOf(slot), 1);
      if (slot.watchdog) clearInterval(slot.watchdog);
      // the job the worker was on is the one that killed it; the others sent to it are innocent and
      // get one more try on another worker
      const on = Atomics.load(slot.progress, 0);
      const culprit = slot.jobs.find((j) => j.id === on);
      if (culprit) culprit.resolve(parseFallback(culprit.raw, [slot.timedOut ? 'worker-timeout' : 'worker-crashed'], parseOpts));
      const innocent = slot.jobs.filter((j) => j !== culprit);
      for (const job of innocent.reverse()) {
        if (job.retried) job.resolve(parseFallback(job.raw, ['worker-crashed'], parseOpts));
        else { job.retried = true; queue.splice(head, 0, job); }
      }
      if (!slot.ready && ++startFailures >= MAX_START_FAILURES) degraded = true;
      if (!closing && !degraded) spawn();
      pump();
    });
  };

  /**
   * Hard timeout: while the worker has jobs, check what it is parsing now; the same job for longer
   * than hardTimeoutMs (+200 ms per MB) gets the worker terminated.
   */
  const watch = (slot: Slot): void => {
    if (!slot.jobs.length) {
      if (slot.watchdog) clearInterval(slot.watchdog);
      slot.watchdog = null;
      slot.watched = null;
      return;
    }
    if (slot.watchdog) return;
    slot.watchdog = setInterval(() => {
      const on = Atomics.load(slot.progress, 0);
      const now = Date.now();
      if (on === 0 || slot.watched?.id !== on) {
        slot.watched = on === 0 ? null : { id: on, since: now };
        return;
      }
      const job = slot.jobs.find((j) => j.id === on);
      if (job && now - slot.watched.since > hardTimeoutMs + job.raw.byteLength / 5000) {
        slot.timedOut = true;
        void slot.worker.terminate();
      }
    }, Math.min(1000, Math.max(50, hardTimeoutMs / 8)));
    slot.watchdog.unref();
  };

  const send = (slot: Slot, jobs: Job[]): void => {
    slot.jobs.push(...jobs);
    watch(slot);
    // own buffers: transferable without touching the caller's
    const chunk: ParseChunk = { jobs: jobs.map((j) => ({ id: j.id, raw: new Uint8Array(j.raw) })), opts: parseOpts };
    try {
      slot.worker.postMessage(chunk, chunk.jobs.map((j) => j.raw.buffer as ArrayBuffer));
    } catch {
      for (const job of jobs) {
        slot.jobs.splice(slot.jobs.indexOf(job), 1);
        job.resolve(parseFallback(job.raw, ['worker-post-failed'], parseOpts));
      }
      watch(slot);
    }
  };

  const pump = (): void => {
    if (degraded) {
      // workers cannot start: parse what is queued here so nothing waits forever
      while (head < queue.length) {
        const job = queue[head++];
        if (job) {
          local++;
          void inProcess(job.raw).then((m) => { local--; job.resolve(m); pump(); });
        }
      }
    }
    // breadth first: the queue is shared out in chunks, each ready worker taking its share in turn
    for (;;) {
      const open = slots.filter((sl) => sl.ready && sl.jobs.length < IN_FLIGHT);
      if (head >= queue.length || open.length === 0) break;
      for (const slot of open) {
        const left = queue.length - head;
        if (left <= 0) break;
        const n = Math.min(CHUNK, IN_FLIGHT - slot.jobs.length, Math.ceil(left / open.length));
        send(slot, queue.slice(head, head + n));
        head += n;
      }
    }
    if (head > 1024 && head * 2 > queue.length) { queue = queue.slice(head); head = 0; }
    if (drained && head >= queue.length && local === 0 && slots.every((s) => !s.jobs.length)) drained();
  };

  for (let i = 0; i < size; i++) spawn();

  const parse = (raw: Uint8Array): Promise<ParsedMessage> => {
    if (closing || closed || degraded) return inProcess(raw);
    return new Promise((resolve) => {
      queue.push({ id: nextId++, raw, resolve });
      // once the caller's synchronous loop is done, so that a batch goes out in chunks
      if (!pumpQueued) {
        pumpQueued = true;
        queueMicrotask(() => { pumpQueued = false; pump(); });
      }
    });
  };

  return {
    parse,
    close(): Promise<void> {
      closed ??= (async () => {
        await new Promise<void>((resolve) => { drained = resolve; pump(); });
        closing = true; // set after draining so a crash while draining still gets a replacement
        await Promise.all([...slots].map((s) => s.worker.terminate()));
      })();
      return closed;
    },
  };
}
