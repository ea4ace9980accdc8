// Why this file exists: the fence rule of the PostgreSQL store, checked inside the transaction of
// every write that carries a Fence. The lease row of the fence's mailbox is read FOR SHARE: a
// takeover (which bumps the epoch with an UPDATE) waits for this transaction, and a write after the
// takeover sees the new epoch. The rule:
//   - no lease row: the mailbox was never leased (one replica, the embedded-compatible mode with
//     epoch 0): accepted, whatever the epoch;
//   - a lease row: accepted only when the fence's epoch equals the row's. An expired lease that no
//     one took over keeps its epoch, so its holder's late write is still safe and accepted; once
//     another replica acquires it the epoch grows and the old holder is refused.
import type { Fence } from '../port.js';
import { StoreError } from '../types.js';
import type { Tx } from './connect.js';

export async function checkFence(tx: Tx, fence: Fence): Promise<void> {
  const rows = await tx<{ epoch: string }[]>`SELECT epoch FROM mailbox_leases WHERE mailbox = ${fence.mailbox} FOR SHARE`;
  decideFence(fence, rows[0] ? Number(rows[0].epoch) : null);
}

/** Pure: throws StoreError('fenced') when the fence is stale against the stored epoch. */
export function decideFence(fence: Fence, stored: number | null): void {
  if (stored === null || stored === fence.epoch) return;
  throw new StoreError('fenced', `mailbox ${fence.mailbox}: write with epoch ${fence.epoch} refused, the lease is at epoch ${stored} (another owner took it over)`);
}
