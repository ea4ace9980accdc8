// Why this file exists: the small lease API over mailbox_leases that hands out fences (the
// supervisor that balances mailboxes over replicas uses it; the contract suite uses it to take a
// mailbox over). Times are the database's clock (now()), the same for every replica.
//   acquire: free, expired, or already ours → the epoch grows by one (a new holding) → its Fence;
//            held by another live owner → null.
//   renew:   only the holder of the current epoch, and only while nobody took it over → true.
//   release: the holder gives it up (expires now); the epoch stays, so stale writes stay refused.
import type { Fence } from '../port.js';
import type { Sql } from './connect.js';

export interface Leases {
  acquireLease(mailbox: string, owner: string, ttlMs: number): Promise<Fence | null>;
  renewLease(fence: Fence, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(fence: Fence, owner: string): Promise<void>;
}

export function leases(sql: Sql): Leases {
  return {
    async acquireLease(mailbox, owner, ttlMs) {
      // On the lease pool (lock_timeout, stores.ts): a lease row locked by a stopped replica's
      // transaction (its fence check) makes this "not acquired" (null) after a short wait instead of
      // stalling the lease round; the next heartbeat ends the stalled session (stalls.ts).
      try {
        const rows = await sql<{ epoch: string }[]>`
          INSERT INTO mailbox_leases (mailbox, owner, epoch, expires_at)
          VALUES (${mailbox}, ${owner}, 1, now() + ${ttlMs} * interval '1 millisecond')
          ON CONFLICT (mailbox) DO UPDATE
            SET owner = excluded.owner, epoch = mailbox_leases.epoch + 1, expires_at = excluded.expires_at
            WHERE mailbox_leases.owner IS NULL OR mailbox_leases.owner = excluded.owner OR mailbox_leases.expires_at <= now()
          RETURNING epoch`;
        return rows[0] ? { mailbox, epoch: Number(rows[0].epoch) } : null;
      } catch (e) {
        if ((e as { code?: string }).code === '55P03') return null; // lock_not_available
        throw e;
      }
    },
    async renewLease(fence, owner, ttlMs) {
      const rows = await sql`
        UPDATE mailbox_leases SET expires_at = now() + ${ttlMs} * interval '1 millisecond'
        WHERE mailbox = ${fence.mailbox} AND epoch = ${fence.epoch} AND owner = ${owner}
        RETURNING 1`;
      return rows.length === 1;
    },
    async releaseLease(fence, owner) {
      await sql`
        UPDATE mailbox_leases SET owner = NULL, expires_at = now()
        WHERE mailbox = ${fence.mailbox} AND epoch = ${fence.epoch} AND owner = ${owner}`;
    },
  };
}
