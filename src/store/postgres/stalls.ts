// Why this file exists: idle_in_transaction_session_timeout does not cover every paused replica.
// A replica stopped (SIGSTOP, a frozen VM, a partition) in the middle of an extended-protocol
// exchange — postgres.js sends Parse/Describe/Flush, waits for the answer, then Bind/Execute/Sync —
// leaves its session `active`, waiting on ClientRead, inside its transaction: PostgreSQL applies
// neither idle_in_transaction_session_timeout nor statement_timeout there (measured on PostgreSQL
// 15), so the session keeps its row locks (its mailbox's lease row FOR SHARE, the ticket counter)
// for as long as the replica is stopped, and every other replica's takeover and commits wait on them.
// The heartbeat of every live replica ends such sessions: of this store's own application_name and
// role, in this database, stalled on their client for longer than the bound (a third of the lease
// TTL). A live replica answers a Describe within milliseconds.
import type { Sql } from './connect.js';

/** End this store's sessions stalled on their client mid-statement for longer than stallMs; returns how many. */
export async function endStalledSessions(sql: Sql, stallMs: number): Promise<number> {
  const [row] = await sql<{ ended: string }[]>`
    SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS ended FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND usename = current_user AND application_name = current_setting('application_name')
      AND state = 'active' AND wait_event = 'ClientRead'
      AND state_change < now() - ${stallMs} * interval '1 millisecond'`;
  return Number(row?.ended ?? 0);
}
