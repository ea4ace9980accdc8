// Why this file exists: the small, hot state that must change in the same durable write as a ticket —
// ticket-id counters, IMAP checkpoints and pending server actions — lives in one small lowdb file,
// meta.json, so every flush rewrites a few KB instead of the whole store. Pending actions are how a
// crash between "ticket committed" and "message moved/deleted on the server" gets redone on restart.
import path from 'node:path';
import { Low } from 'lowdb';
import { DurableJSONFile, type DurableWrite } from './durable-file.js';
import type { AfterFetch, Checkpoint, CheckpointInput, PendingAction } from './types.js';
import { StoreError } from './types.js';

export interface MetaFile {
  v: 1;
  /** per ticket-id prefix: the last number handed out */
  counters: Record<string, number>;
  /** last global ticket creation sequence number */
  lastSeq: number;
  lastActionId: number;
  /** mailbox → folder → checkpoint */
  checkpoints: Record<string, Record<string, Checkpoint>>;
  /** mailbox → folder → opaque API sync cursor (Graph delta link, Gmail history id) */
  cursors: Record<string, Record<string, string>>;
  pending: PendingAction[];
}

export function actionKey(a: AfterFetch): string {
  // remoteId only when set: the keys of IMAP/POP3 actions stay what they were
  return JSON.stringify([a.mailbox, a.kind, a.folder ?? null, a.uidValidity ?? null, a.uid ?? null, a.uidl ?? null, a.action, a.moveTo ?? null, ...(a.remoteId !== undefined ? [a.remoteId] : [])]);
}

export class MetaState {
  dirty = false;
  readonly #byKey = new Map<string, PendingAction>();
  /** lastActionId as meta.json had it on open */
  readonly #durableLastAction: number;

  private constructor(readonly db: Low<MetaFile>) {
    for (const p of db.data.pending) this.#byKey.set(actionKey(p), p);
    this.#durableLastAction = db.data.lastActionId ?? 0;
  }

  static async open(dir: string): Promise<MetaState> {
    const adapter = new DurableJSONFile<MetaFile>(path.join(dir, 'meta.json'));
    const db = new Low<MetaFile>(adapter, { v: 1, counters: {}, lastSeq: 0, lastActionId: 0, checkpoints: {}, cursors: {}, pending: [] });
    try {
      await db.read();
    } catch (e) {
      throw new StoreError('corrupt', (e as Error).message);
    }
    const d = db.data;
    d.counters ??= {};
    d.checkpoints ??= {};
    d.cursors ??= {};
    d.pending ??= [];
    d.lastSeq ??= 0;
    d.lastActionId ??= 0;
    return new MetaState(db);
  }

  get data(): MetaFile {
    return this.db.data;
  }

  /** Raise counters to at least what the segments prove was handed out (segments are written first). */
  observeTicket(prefix: string, number: number, seq: number): void {
    const c = this.data.counters;
    if ((c[prefix] ?? 0) < number) c[prefix] = number;
    if (this.data.lastSeq < seq) this.data.lastSeq = seq;
  }

  /**
   * An action found in a segment (apply.ts writes it there before meta.json): one numbered above the
   * last action meta.json knows was recorded by a commit whose meta.json write a crash prevented, so
   * it is pending again. Ones at or below it are pending here already, or done.
   */
  restoreAction(a: AfterFetch & { id: string }, ticketId: string, articleNo: number, at: string): void {
    const n = Number(/^pa-(\d+)$/.exec(a.id)?.[1] ?? 0);
    if (n <= this.#durableLastAction || this.data.pending.some((p) => p.id === a.id)) return;
    const { id, ...afterFetch } = a;
    const key = actionKey(afterFetch);
    if (!this.#byKey.has(key)) {
      const p: PendingAction = { ...afterFetch, id, ticketId, articleNo, createdAt: at };
      this.data.pending.push(p);
      this.#byKey.set(key, p);
    }
    if (this.data.lastActionId < n) this.data.lastActionId = n;
    this.dirty = true;
  }

  nextTicketNumber(prefix: string): number {
    const n = (this.data.counters[prefix] ?? 0) + 1;
    this.data.counters[prefix] = n;
    this.dirty = true;
    return n;
  }

  nextSeq(): number {
    this.dirty = true;
    return ++this.data.lastSeq;
  }

  getCheckpoint(mailbox: string, folder: string): Checkpoint | null {
    const cp = this.data.checkpoints[mailbox]?.[folder];
    return cp ? { uidValidity: cp.uidValidity, uid: cp.uid } : null;
  }

  /**
   * Advance, never backwards. A checkpoint for a different UIDVALIDITY than the stored one is ignored
   * (a stale commit from before resetCheckpoint); use resetCheckpoint when UIDVALIDITY changes.
   */
  advanceCheckpoint(c: CheckpointInput): boolean {
    const byFolder = (this.data.checkpoints[c.mailbox] ??= {});
    const cur = byFolder[c.folder];
    if (cur && (cur.uidValidity !== c.uidValidity || cur.uid >= c.uid)) return false;
    byFolder[c.folder] = { uidValidity: c.uidValidity, uid: c.uid };
    this.dirty = true;
    return true;
  }

  /**
   * UIDVALIDITY changed: restart the folder at uid 0 under the new value. Pending actions for the folder
   * under another UIDVALIDITY are dropped — their UIDs now name different messages (or none), and a
   * delete/move on them could destroy mail that was never read. Returns the dropped actions.
   * Same UIDVALIDITY as stored: no-op (checkpoints never move backwards).
   */
  resetCheckpoint(mailbox: string, folder: string, uidValidity: number): PendingAction[] {
    if (this.data.checkpoints[mailbox]?.[folder]?.uidValidity === uidValidity) return []; // not a change
    (this.data.checkpoints[mailbox] ??= {})[folder] = { uidValidity, uid: 0 };
    const dropped = this.data.pending.filter(
      (p) => p.kind === 'imap' && p.mailbox === mailbox && (p.folder ?? '') === folder && p.uidValidity !== uidValidity,
    );
    if (dropped.length > 0) this.#remove(new Set(dropped.map((p) => p.id)));
    this.dirty = true;
    return dropped;
  }

  getCursor(mailbox: string, folder: string): string | null {
    return this.data.cursors[mailbox]?.[folder] ?? null;
  }

  /** Replace (not advance: a cursor is opaque) the folder's sync cursor. */
  setCursor(mailbox: string, folder: string, value: string): void {
    const byFolder = (this.data.cursors[mailbox] ??= {});
    if (byFolder[folder] === value) return;
    byFolder[folder] = value;
    this.dirty = true;
  }

  /** The API said the cursor is expired: the folder is read from the start again. Pending actions stay (their ids are immutable). */
  resetCursor(mailbox: string, folder: string): void {
    const byFolder = this.data.cursors[mailbox];
    if (!byFolder || !(folder in byFolder)) return;
    delete byFolder[folder];
    this.dirty = true;
  }

  /** Record a pending server action; an identical one already pending is reused. 'keep' records nothing. */
  addPending(a: AfterFetch, ticketId: string, articleNo: number, now: string): string | null {
    if (a.action === 'keep') return null;
    const key = actionKey(a);
    const existing = this.#byKey.get(key);
    if (existing) return existing.id;
    const id = `pa-${++this.data.lastActionId}`;
    const p: PendingAction = { ...a, id, ticketId, articleNo, createdAt: now };
    this.data.pending.push(p);
    this.#byKey.set(key, p);
    this.dirty = true;
    return id;
  }

  pendingFor(mailbox: string): PendingAction[] {
    return this.data.pending.filter((p) => p.mailbox === mailbox).map((p) => ({ ...p }));
  }

  get pendingCount(): number {
    return this.data.pending.length;
  }

  /** Remove completed actions; returns how many were pending. */
  complete(ids: Iterable<string>): number {
    return this.#remove(new Set(ids));
  }

  #remove(ids: Set<string>): number {
    const before = this.data.pending.length;
    this.data.pending = this.data.pending.filter((p) => {
      if (!ids.has(p.id)) return true;
      this.#byKey.delete(actionKey(p));
      return false;
    });
    const n = before - this.data.pending.length;
    if (n > 0) this.dirty = true;
    return n;
  }

  snapshot(): DurableWrite | null {
    if (!this.dirty) return null;
    this.dirty = false;
    const adapter = this.db.adapter as DurableJSONFile<MetaFile>;
    return { path: adapter.filename, data: adapter.serialize(this.data) };
  }
}
