// Worker-thread entry for parse-pool.ts: parses raw messages off the main thread so ingest can use
// every core. Jobs arrive in chunks (one message carries several, so the per-message cost of
// postMessage is paid once per chunk on both sides) and are parsed one at a time, in order; the id
// of the one being parsed is kept in a shared Int32 (`progress`), which is how the pool knows which
// message killed or hung this worker. A chunk's results go back in one message, attachment buffers
// transferred (parse.ts gives each attachment its own ArrayBuffer, so transferring never detaches
// shared memory).
import { parentPort, workerData } from 'node:worker_threads';
import { parseMessage } from './parse.js';
import type { ParsedMessage, ParseOptions } from './parsed-message.js';

export interface ParseChunk { jobs: { id: number; raw: Uint8Array }[]; opts: ParseOptions }
export interface ParseReply { ready?: boolean; results?: { id: number; result?: ParsedMessage }[] }

/** Test-only switches (set by parse-pool tests through workerData): crash or hang on marked input. */
interface TestHooks { crashMarker?: string; hangMarker?: string; failStart?: boolean }
const data = workerData as { testHooks?: TestHooks; progress?: SharedArrayBuffer } | null;
const hooks: TestHooks = data?.testHooks ?? {};
if (hooks.failStart) throw new Error('parse-worker test: failing at startup');
const progress = data?.progress ? new Int32Array(data.progress) : new Int32Array(1);

function startsWith(raw: Uint8Array, marker: string | undefined): boolean {
  if (!marker) return false;
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).subarray(0, marker.length).toString('latin1') === marker;
}

async function handle({ jobs, opts }: ParseChunk): Promise<void> {
  const results: { id: number; result: ParsedMessage }[] = [];
  const transfer = new Set<ArrayBuffer>();
  for (const job of jobs) {
    Atomics.store(progress, 0, job.id);
    if (startsWith(job.raw, hooks.crashMarker)) {
      setImmediate(() => { throw new Error('parse-worker test crash'); });
      return new Promise(() => {}); // dies on this job
    }
    if (startsWith(job.raw, hooks.hangMarker)) for (;;) { /* spin until the pool terminates us */ }
    const result = await parseMessage(job.raw, opts);
    for (const a of result.attachments) {
      if (a.content.buffer instanceof ArrayBuffer && a.content.byteLength > 0 && a.content.byteLength === a.content.buffer.byteLength) {
        transfer.add(a.content.buffer);
      }
    }
    results.push({ id: job.id, result });
  }
  Atomics.store(progress, 0, 0);
  try {
    parentPort?.postMessage({ results } satisfies ParseReply, [...transfer]);
  } catch {
    try {
      parentPort?.postMessage({ results } satisfies ParseReply); // e.g. an untransferable buffer: plain clone
    } catch {
      parentPort?.postMessage({ results: jobs.map((j) => ({ id: j.id })) } satisfies ParseReply); // the pool falls back to its own parse
    }
  }
}

// one chunk at a time, in arrival order: the pool relies on that (and on `progress`)
let chain: Promise<void> = Promise.resolve();
parentPort?.on('message', (chunk: ParseChunk) => { chain = chain.then(() => handle(chunk)).catch(() => {}); });
parentPort?.postMessage({ ready: true } satisfies ParseReply);
