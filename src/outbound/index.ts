// The one entry point the daemon uses: open the durable outbox under the store directory, hook the
// delivery-failed notifications to it, the suspension of sending mailboxes (sharing the poller's
// SuspensionStore), start sending.
import type { OutboxStore } from '../store/outbox-store.js';
import { deliveryFailedNotifier } from './notify.js';
import { Outbox, type OutboxDeps, type OutboxOptions } from './outbox.js';
import { SenderSuspensions, type SenderSuspensionDeps } from './sender-suspension.js';

export async function startOutbound(storage: string | OutboxStore, deps: Omit<OutboxDeps, 'suspensions'> & { suspension?: SenderSuspensionDeps }, opts: OutboxOptions = {}): Promise<Outbox> {
  const { suspension, ...rest } = deps;
  const suspensions = suspension && new SenderSuspensions({ ...suspension, snapshot: deps.snapshot, log: deps.log, ...(deps.metrics && { metrics: deps.metrics }) });
  const outbox = await Outbox.open(storage, { ...rest, ...(suspensions && { suspensions }) }, opts);
  outbox.onFailed = deliveryFailedNotifier(outbox, deps.snapshot, deps.log);
  outbox.start();
  return outbox;
}

export { Outbox, type OutboxOptions } from './outbox.js';
export { acknowledge, type AcknowledgeInput, type AcknowledgeResult } from './acknowledge.js';
