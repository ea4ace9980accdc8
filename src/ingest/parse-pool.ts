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
import type { ParsedMessage, ParseOptions } from './parsed-message.js';

export interface ParsePoolOptions {
  /** number of workers; default os.availableParallelism(); 0 = parse in-process */
  size?: number;
  maxAttachmentBytes?: number;
  /** soft timeout inside parseMessage (default 5000 ms + 100 ms per MB) */
  timeoutMs?: number;
  /** a worker busy longer than this (+200 ms per MB) on one message is terminated (default 20000 ms) */
  hardTimeoutMs?: number;
  /** V8 old-space limit per worker, so one monstrous message kills a worker, not the daemon */
  maxWorkerMemoryMb?: number;
  /** test-only: worker crashes / spins forever on raw input starting with these markers, or never starts */
  testHooks?: { crashMarker?: string; hangMarker?: string; failStart?: boolean };
}

export interface ParsePool {
  parse(raw: Uint8Array): Promise<ParsedMessage>;
  close(): Promise<void>;
}

interface Job { id: number; raw: Uint8Array; resolve: (m: ParsedMessage) => void; retried?: boolean }
interface Slot { worker: Worker; jobs: Job[]; timer: NodeJS.Timeout | null; ready: boolean; timedOut: boolean }

const MAX_START_FAILURES = 3;
/** jobs in flight per worker: the next one is already there when a parse finishes */
const PIPELINE_DEPTH = 2;

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

export function createParsePool(options: ParsePoolOptions = {}): ParsePool {
  const parseOpts: ParseOptions = {
    ...(options.maxAttachmentBytes !== undefined ? { maxAttachmentBytes: options.maxAttachmentBytes } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  };
  const inProcess = (raw: Uint8Array): Promise<ParsedMessage> => parseMessage(raw, parseOpts);
  const size = Math.max(0, Math.floor(options.size ?? os.availableParallelism()));
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

  const spawn = (): void => {
    const worker = new Worker(entry, {
      ...entryOptions,
      workerData: { testHooks: options.testHooks ?? {} },
      resourceLimits: { maxOldGenerationSizeMb: options.maxWorkerMemoryMb ?? 1024 },
    });
    const slot: Slot = { worker, jobs: [], timer: null, ready: false, timedOut: false };
    slots.push(slot);
    worker.on('message', (msg: { ready?: boolean; id?: number; result?: ParsedMessage; failed?: boolean }) => {
      if (msg.ready) {
        slot.ready = true;
        startFailures = 0;
      } else {
        const job = slot.jobs.find((j) => j.id === msg.id);
        if (job) {
          slot.jobs.splice(slot.jobs.indexOf(job), 1);
          job.resolve(msg.result ?? parseFallback(job.raw, ['worker-post-failed'], parseOpts));
        }
        armTimer(slot);
      }
      pump();
    });
    worker.on('messageerror', () => { void worker.terminate(); }); // treated like a crash below
    worker.on('error', () => { /* always followed by 'exit' */ });
    worker.on('exit', () => {
      slots.splice(slots.indexOf(slot), 1);
      if (slot.timer) clearTimeout(slot.timer);
      // the worker parses in order, so the oldest unfinished job is the one that killed it; the
      // ones queued behind it are innocent and get one more try on another worker
      const [culprit, ...innocent] = slot.jobs;
      if (culprit) culprit.resolve(parseFallback(culprit.raw, [slot.timedOut ? 'worker-timeout' : 'worker-crashed'], parseOpts));
      for (const job of innocent.reverse()) {
        if (job.retried) job.resolve(parseFallback(job.raw, ['worker-crashed'], parseOpts));
        else { job.retried = true; queue.splice(head, 0, job); }
      }
      if (!slot.ready && ++startFailures >= MAX_START_FAILURES) degraded = true;
      if (!closing && !degraded) spawn();
      pump();
    });
  };

  /** Hard timeout for the job the worker is on now (the oldest one sent to it). */
  const armTimer = (slot: Slot): void => {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = slot.jobs.length
      ? setTimeout(() => { slot.timedOut = true; void slot.worker.terminate(); }, hardTimeoutMs + (slot.jobs[0]?.raw.byteLength ?? 0) / 5000)
      : null;
  };

  const send = (slot: Slot, job: Job): void => {
    slot.jobs.push(job);
    if (slot.jobs.length === 1) armTimer(slot);
    const copy = new Uint8Array(job.raw); // own buffer: transferable without touching the caller's
    try {
      slot.worker.postMessage({ id: job.id, raw: copy, opts: parseOpts }, [copy.buffer]);
    } catch {
      slot.jobs.splice(slot.jobs.indexOf(job), 1);
      armTimer(slot);
      job.resolve(parseFallback(job.raw, ['worker-post-failed'], parseOpts));
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
    // breadth first: every idle worker gets one job before any gets a second
    for (let depth = 1; depth <= PIPELINE_DEPTH; depth++) {
      for (const slot of slots) {
        if (head >= queue.length) break;
        if (!slot.ready || slot.jobs.length >= depth) continue;
        const job = queue[head++];
        if (job) send(slot, job);
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
      pump();
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
