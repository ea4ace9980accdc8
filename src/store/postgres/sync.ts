// Why this file exists: the PostgreSQL store's sync port: checkpoints, UIDLs and pending server
// actions. Writes carry a Fence, checked in their transaction (fence.ts).
import type { Fence, SyncPort } from '../port.js';
import type { AfterFetch, Checkpoint, PendingAction } from '../types.js';
import { StoreError } from '../types.js';
import type { Sql } from './connect.js';
import { checkFence } from './fence.js';
import { iso, pgText } from './rows.js';

interface ActionRow {
  id: string;
  mailbox: string;
  kind: AfterFetch['kind'];
  folder: string | null;
  uid_validity: string | null;
  uid: string | null;
  uidl: string | null;
  remote_id: string | null;
  action: AfterFetch['action'];
  move_to: string | null;
  ticket_id: string;
  article_no: number;
  created_at: Date;
}

function actionOf(r: ActionRow): PendingAction {
  return {
    mailbox: r.mailbox,
    kind: r.kind,
    ...(r.folder !== null && { folder: r.folder }),
    ...(r.uid_validity !== null && { uidValidity: Number(r.uid_validity) }),
    ...(r.uid !== null && { uid: Number(r.uid) }),
    ...(r.uidl !== null && { uidl: r.uidl }),
    ...(r.remote_id !== null && { remoteId: r.remote_id }),
    action: r.action,
    ...(r.move_to !== null && { moveTo: r.move_to }),
    id: r.id,
    ticketId: r.ticket_id,
    articleNo: Number(r.article_no),
    createdAt: iso(r.created_at)!,
  };
}

export class PostgresSync implements SyncPort {
  constructor(private readonly sql: Sql) {}

  async checkpoint(mailbox: string, folder: string): Promise<Checkpoint | null> {
    const [r] = await this.sql<{ uid_validity: string; uid: string }[]>`SELECT uid_validity, uid FROM checkpoints WHERE mailbox = ${mailbox} AND folder = ${folder}`;
    return r ? { uidValidity: Number(r.uid_validity), uid: Number(r.uid) } : null;
  }

  async resetCheckpoint(mailbox: string, folder: string, uidValidity: number, fence: Fence): Promise<void> {
    if (!Number.isInteger(uidValidity) || uidValidity < 0) throw new StoreError('bad-input', 'bad uidValidity');
    await this.sql.begin(async (tx) => {
      await checkFence(tx, fence);
      const [cur] = await tx<{ uid_validity: string }[]>`SELECT uid_validity FROM checkpoints WHERE mailbox = ${mailbox} AND folder = ${folder} FOR UPDATE`;
      if (cur && Number(cur.uid_validity) === uidValidity) return; // not a change: never backwards
      // The folder restarts at uid 0; its pending actions under another UIDVALIDITY name other
      // messages now (or none): a delete/move on them could destroy mail never read. They go.
      await Promise.all([
        tx`INSERT INTO checkpoints (mailbox, folder, uid_validity, uid) VALUES (${mailbox}, ${folder}, ${uidValidity}, 0)
           ON CONFLICT (mailbox, folder) DO UPDATE SET uid_validity = excluded.uid_validity, uid = 0`,
        tx`DELETE FROM pending_actions WHERE kind = 'imap' AND mailbox = ${mailbox} AND coalesce(folder, '') = ${folder} AND uid_validity IS DISTINCT FROM ${uidValidity}`,
      ]);
    });
  }

  async cursor(mailbox: string, folder: string): Promise<string | null> {
    const [r] = await this.sql<{ value: string }[]>`SELECT value FROM sync_cursors WHERE mailbox = ${mailbox} AND folder = ${folder}`;
    return r ? r.value : null;
  }

  async saveCursor(mailbox: string, folder: string, value: string, fence: Fence): Promise<void> {
    if (typeof value !== 'string' || value === '') throw new StoreError('bad-input', 'a cursor must be a non-empty string');
    await this.sql.begin(async (tx) => {
      await checkFence(tx, fence);
      await tx`INSERT INTO sync_cursors (mailbox, folder, value) VALUES (${mailbox}, ${folder}, ${pgText(value)})
               ON CONFLICT (mailbox, folder) DO UPDATE SET value = excluded.value`;
    });
  }

  async resetCursor(mailbox: string, folder: string, fence: Fence): Promise<void> {
    await this.sql.begin(async (tx) => {
      await checkFence(tx, fence);
      await tx`DELETE FROM sync_cursors WHERE mailbox = ${mailbox} AND folder = ${folder}`;
    });
  }

  async knownKeys(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await this.sql<{ key: string }[]>`SELECT key FROM dedupe_keys WHERE key = ANY(${keys.map(pgText)}::text[])`;
    const known = new Set(rows.map((r) => r.key));
    return new Set(keys.filter((k) => known.has(pgText(k))));
  }

  async uidls(mailbox: string): Promise<Set<string>> {
    const rows = await this.sql<{ uidl: string }[]>`SELECT uidl FROM uidls WHERE mailbox = ${mailbox}`;
    return new Set(rows.map((r) => r.uidl));
  }

  async pruneUidls(mailbox: string, keep: Set<string>, fence: Fence): Promise<number> {
    return (await this.sql.begin(async (tx) => {
      await checkFence(tx, fence);
      const gone = await tx`DELETE FROM uidls WHERE mailbox = ${mailbox} AND NOT (uidl = ANY(${[...keep].map(pgText)}::text[])) RETURNING 1`;
      return gone.length;
    })) as number;
  }

  async pendingActions(mailbox: string): Promise<PendingAction[]> {
    const rows = await this.sql<ActionRow[]>`
      SELECT id, mailbox, kind, folder, uid_validity, uid, uidl, remote_id, action, move_to, ticket_id, article_no, created_at
      FROM pending_actions WHERE mailbox = ${mailbox} ORDER BY created_at, length(id), id`;
    return rows.map(actionOf);
  }

  async completeActions(ids: string[], fence: Fence): Promise<void> {
    if (ids.length === 0) return;
    await this.sql.begin(async (tx) => {
      await checkFence(tx, fence);
      await tx`DELETE FROM pending_actions WHERE id = ANY(${ids}::text[])`;
    });
  }
}
