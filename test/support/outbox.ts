// Why this file exists: the outbox sender on an outbox of its own in a directory (tests and benchmarks
// that need no whole daemon): the embedded store's outbox journal behind the store port, closed with
// the sender.
import { startOutbound, type Outbox, type OutboxOptions } from '../../src/outbound/index.js';
import { EmbeddedOutbox } from '../../src/store/embedded/outbox.js';
import { OutboxStore } from '../../src/store/outbox-store.js';

export async function startOutboundIn(dir: string, deps: Parameters<typeof startOutbound>[2], opts: OutboxOptions = {}): Promise<Outbox> {
  const store = await OutboxStore.open(dir, opts);
  return startOutbound(new EmbeddedOutbox(store), store.recovery, deps, opts, () => store.close());
}
