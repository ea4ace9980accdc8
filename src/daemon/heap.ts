// Why this file exists: V8 lets the old generation grow to up to 4x its live size between full
// collections when the heap limit is large (Node's default on a big machine is 4 GB). The daemon's
// allocation is bursty (a batch in flight lives long enough to be promoted, then dies), so on a
// 2-core box V8 let ~200 MB of heap sit between collections for ~60 MB live at 10k tickets.
// A fixed growing factor keeps that headroom proportional to what is live, with no cap on the heap:
// a large store still gets all the memory it needs. `--heap-growing-percent` is one of the few V8
// heap flags read at every collection, so setting it after startup takes effect (and applies to the
// parse workers too: V8 flags are per process).
import v8 from 'node:v8';

/** Default headroom between full collections: 50% of the live old generation. */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;

const FLAG = /--heap[-_]growing[-_]percent\b/;

/** The flag to set, or null when the operator already chose one (node flags or NODE_OPTIONS). */
export function heapGrowingFlag(execArgv: readonly string[], nodeOptions: string | undefined, percent = DEFAULT_HEAP_GROWING_PERCENT): string | null {
  if (execArgv.some((a) => FLAG.test(a)) || FLAG.test(nodeOptions ?? '')) return null;
  return `--heap-growing-percent=${percent}`;
}

/** Apply the daemon's heap growing factor to this process (idempotent: every Daemon.start calls it; a no-op when the operator set one). */
export function tuneHeap(): string | null {
  const flag = heapGrowingFlag(process.execArgv, process.env.NODE_OPTIONS);
  if (flag) v8.setFlagsFromString(flag);
  return flag;
}
