// The one entry point the daemon uses: open the durable outbox under the store directory, hook the
// delivery-failed notifications to it, start sending.
import { deliveryFailedNotifier } from './notify.js';
import { Outbox, type OutboxDeps, type OutboxOptions } from './outbox.js';

export async function startOutbound(storePath: string, deps: OutboxDeps, opts: OutboxOptions = {}): Promise<Outbox> {
  const outbox = await Outbox.open(storePath, deps, opts);
  outbox.onFailed = deliveryFailedNotifier(outbox, deps.snapshot, deps.log);
  outbox.start();
  return outbox;
}

export { Outbox, type OutboxOptions } from './outbox.js';
export { acknowledge, type AcknowledgeInput, type AcknowledgeResult } from './acknowledge.js';
