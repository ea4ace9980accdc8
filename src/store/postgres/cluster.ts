// Why this file exists: the PostgreSQL store's cluster port: replicas' heartbeat rows (members) and
// the mailbox leases (leases.ts) whose epochs fence every write. Times are the database's (now()).
import type { ClusterPort, Fence, LeaseRow, Member } from '../port.js';
import type { Sql } from './connect.js';
import type { Leases } from './leases.js';
import { endStalledSessions } from './stalls.js';

/**
 * sql: the lease round's pool; listen: the pool whose LISTEN connection carries the announcements
 * (the main one: postgres.js keeps one LISTEN connection per pool, shared with the suspensions').
 */
export function cluster(sql: Sql, l: Leases, announcements: { listen: Sql; schema: string }): ClusterPort & { close(): Promise<void> } {
  const channel = `${announcements.schema}_leases`.slice(0, 63);
  const listeners = new Set<(from: string) => void>();
  let listening: Promise<{ unlisten(): Promise<void> } | null> | null = null;
  return {
    async announce(from) {
      await sql`SELECT pg_notify(${channel}, ${from})`;
    },
    onAnnounce(fn) {
      listeners.add(fn);
      listening ??= announcements.listen
        .listen(channel, (from) => {
          for (const f of [...listeners]) f(from);
        })
        .catch(() => null); // no LISTEN (a pooler in transaction mode): rounds come on their timer only
      return () => listeners.delete(fn);
    },
    async close() {
      listeners.clear();
      const l = await listening;
      await l?.unlisten().catch(() => undefined);
    },
    async heartbeat(member, ttlMs) {
      const [, members, leases, [clock], stalledEnded] = await Promise.all([
        sql`INSERT INTO members (id, config_hash, started_at, expires_at)
            VALUES (${member.id}, ${member.configHash}, now(), now() + ${ttlMs} * interval '1 millisecond')
            ON CONFLICT (id) DO UPDATE SET config_hash = excluded.config_hash, expires_at = excluded.expires_at`,
        sql<{ id: string; config_hash: string | null; started_at: Date; expires_at: Date }[]>`
            SELECT id, config_hash, started_at, expires_at FROM members WHERE expires_at > now() ORDER BY id`,
        sql<{ mailbox: string; owner: string | null; epoch: string; expires_at: Date }[]>`
            SELECT mailbox, owner, epoch, expires_at FROM mailbox_leases ORDER BY mailbox`,
        sql<{ now: Date }[]>`SELECT now() AS now`,
        // a stopped replica's half-sent statement must not hold its locks until it resumes (stalls.ts)
        endStalledSessions(sql, Math.floor(ttlMs / 3)),
      ]);
      // The member's own row is in `members` only if the INSERT ran first: add it when the race lost.
      const list: Member[] = members.map((m) => ({ id: m.id, configHash: m.config_hash, startedAt: m.started_at.toISOString(), expiresAt: m.expires_at.getTime() }));
      if (!list.some((m) => m.id === member.id)) list.push({ id: member.id, configHash: member.configHash, startedAt: clock!.now.toISOString(), expiresAt: clock!.now.getTime() + ttlMs });
      const rows: LeaseRow[] = leases.map((r) => ({ mailbox: r.mailbox, owner: r.owner, epoch: Number(r.epoch), expiresAt: r.expires_at.getTime() }));
      return { now: clock!.now.getTime(), members: list, leases: rows, ...(stalledEnded > 0 && { stalledEnded }) };
    },
    acquire: (mailbox, owner, ttlMs) => l.acquireLease(mailbox, owner, ttlMs),
    async renew(fences, owner, ttlMs) {
      if (fences.length === 0) return [];
      const rows = await sql<{ mailbox: string; epoch: string }[]>`
        UPDATE mailbox_leases m SET expires_at = now() + ${ttlMs} * interval '1 millisecond'
        FROM json_to_recordset(${JSON.stringify(fences)}::text::json) AS f(mailbox text, epoch bigint)
        WHERE m.mailbox = f.mailbox AND m.epoch = f.epoch AND m.owner = ${owner}
        RETURNING m.mailbox, m.epoch`;
      return rows.map((r): Fence => ({ mailbox: r.mailbox, epoch: Number(r.epoch) }));
    },
    async release(fences, owner) {
      await Promise.all(fences.map((f) => l.releaseLease(f, owner)));
    },
    async leave(id) {
      await sql`DELETE FROM members WHERE id = ${id}`;
    },
  };
}
