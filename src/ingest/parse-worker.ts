// Worker-thread entry for parse-pool.ts: parses one raw message per request off the main thread so
// ingest can use every core. It posts the ParsedMessage back, transferring attachment buffers
// (parse.ts gives each attachment its own ArrayBuffer, so transferring never detaches shared memory).
import { parentPort, workerData } from 'node:worker_threads';
import { parseMessage } from './parse.js';
import type { ParseOptions } from './parsed-message.js';

export interface ParseJob { id: number; raw: Uint8Array; opts: ParseOptions }

/** Test-only switches (set by parse-pool tests through workerData): crash or hang on marked input. */
interface TestHooks { crashMarker?: string; hangMarker?: string; failStart?: boolean }
const hooks: TestHooks = (workerData as { testHooks?: TestHooks } | null)?.testHooks ?? {};
if (hooks.failStart) throw new Error('parse-worker test: failing at startup');

function startsWith(raw: Uint8Array, marker: string | undefined): boolean {
  if (!marker) return false;
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).subarray(0, marker.length).toString('latin1') === marker;
}

async function handle(job: ParseJob): Promise<void> {
  if (startsWith(job.raw, hooks.crashMarker)) {
    setImmediate(() => { throw new Error('parse-worker test crash'); });
    return;
  }
  if (startsWith(job.raw, hooks.hangMarker)) for (;;) { /* spin until the pool terminates us */ }
  const result = await parseMessage(job.raw, job.opts);
  const transfer = new Set<ArrayBuffer>();
  for (const a of result.attachments) {
    if (a.content.buffer instanceof ArrayBuffer && a.content.byteLength > 0 && a.content.byteLength === a.content.buffer.byteLength) {
      transfer.add(a.content.buffer);
    }
  }
  try {
    parentPort?.postMessage({ id: job.id, result }, [...transfer]);
  } catch {
    try {
      parentPort?.postMessage({ id: job.id, result }); // e.g. an untransferable buffer: plain clone
    } catch {
      parentPort?.postMessage({ id: job.id, failed: true }); // the pool falls back to its own parse
    }
  }
}

// one at a time, in arrival order: the pool relies on that to tell which job killed a worker
let chain: Promise<void> = Promise.resolve();
parentPort?.on('message', (job: ParseJob) => { chain = chain.then(() => handle(job)).catch(() => {}); });
parentPort?.postMessage({ ready: true });
