// The one entry point the daemon uses: open the durable outbox under the store directory, hook the
// delivery-failed notifications to it, the suspension of sending mailboxes (sharing the poller's
// SuspensionStore), start sending.
import type { OutboxRecovery } from '../store/outbox-types.js';
import type { OutboxPort } from '../store/port.js';
import { deliveryFailedNotifier } from './notify.js';
import { Outbox, type OutboxDeps, type OutboxOptions } from './outbox.js';
import { SenderSuspensions, type SenderSuspensionDeps } from './sender-suspension.js';

export async function startOutbound(port: OutboxPort, recovery: OutboxRecovery | undefined, deps: Omit<OutboxDeps, 'suspensions'> & { suspension?: SenderSuspensionDeps }, opts: OutboxOptions = {}, release?: () => Promise<void>): Promise<Outbox> {
  const { suspension, ...rest } = deps;
  const suspensions = suspension && new SenderSuspensions({ ...suspension, snapshot: deps.snapshot, log: deps.log, ...(deps.metrics && { metrics: deps.metrics }) });
  const outbox = await Outbox.open(port, { ...rest, ...(suspensions && { suspensions }) }, opts, recovery, release);
  outbox.onFailed = deliveryFailedNotifier(outbox, deps.snapshot, deps.log);
  outbox.start();
  return outbox;
}

export { Outbox, type OutboxOptions } from './outbox.js';
export { acknowledge, type AcknowledgeInput, type AcknowledgeResult } from './acknowledge.js';
