// Why this file exists: the ticket store the daemon and API use (store.driver: lowdb). It wires the
// pieces together — segments (tickets), meta.json (counters, checkpoints, pending server actions),
// per-mailbox UIDL files, in-memory indexes and group commit — and guarantees exactly-once intake:
// a commit resolves only when its ticket, its dedupe keys, its pending server action and its
// checkpoint/UIDL are durable, written so that a crash at any point loses nothing acknowledged.
//
// Write order inside one flush: segments → meta.json → uidls/. So after a crash, meta never claims a
// checkpoint or pending action for mail whose ticket is not on disk, and a UIDL is never "committed"
// without its pending action; anything in between is caught by the dedupe keys in the segments.
import path from 'node:path';
import { applyItems, isStatus, segmentsNeeded, validateItems } from './apply.js';
import { openBlobStore, type BlobStore } from './blobs.js';
import { fsyncDir, mkdirDurable, removeStaleTemps } from './durable-file.js';
import { tightenStoreModes } from './permissions.js';
import { FileGroupCommit, type FlushPlan } from './group-commit.js';
import { Indexes, summaryOf, type ArticleRef } from './indexes.js';
import { copySummary, listTickets } from './list.js';
import { acquireStoreLock } from './lock.js';
import { MetaState } from './meta.js';
import { Segments, type StoredTicket } from './segments.js';
import type {
  Checkpoint,
  CheckpointInput,
  CommitItem,
  CommitResult,
  ListTicketsQuery,
  PendingAction,
  StoreIoStats,
  StoreStats,
  Ticket,
  TicketPage,
  TicketStatus,
  TicketStoreOptions,
  TicketSummary,
} from './types.js';
import { StoreError } from './types.js';
import { UidlSets } from './uidls.js';

export interface TicketStore {
  readonly path: string;
  /** content-addressed blobs (<path>/blobs): raw .eml spool and attachments */
  readonly blobs: BlobStore;
  /**
   * Group-committed; resolves after the items (and their actions/checkpoints/UIDLs) are durable.
   * The store keeps the articles' contents as given (no deep copy): do not change them afterwards.
   */
  commit(items: CommitItem[]): Promise<CommitResult[]>;
  hasKey(key: string): boolean;
  /** The article a dedupe key belongs to (sees not-yet-durable commits too). */
  findKey(key: string): { ticketId: string; articleNo: number } | null;
  findByMessageIds(company: string, ids: string[]): string | null;
  /** Internal lookup for threading (e.g. [ACME-000123] in a subject); sees not-yet-durable tickets. */
  findByTicketId(id: string): TicketSummary | null;
  getCheckpoint(mailbox: string, folder: string): Checkpoint | null;
  /**
   * UIDVALIDITY changed: folder restarts at uid 0 under the new value and pending actions for the folder
   * under another UIDVALIDITY are dropped. A no-op if the stored UIDVALIDITY already equals it.
   */
  resetCheckpoint(mailbox: string, folder: string, uidValidity: number): Promise<void>;
  /** API mailboxes (Graph, Gmail): the folder's opaque sync cursor; commits carry it (CommitItem.cursor). */
  getCursor(mailbox: string, folder: string): string | null;
  saveCursor(mailbox: string, folder: string, value: string): Promise<void>;
  resetCursor(mailbox: string, folder: string): Promise<void>;
  hasUidl(mailbox: string, uidl: string): boolean;
  uidls(mailbox: string): Set<string>;
  /** Forget UIDLs not in `keep`; resolves (durably) with how many were forgotten. */
  pruneUidls(mailbox: string, keep: Set<string>): Promise<number>;
  pendingActions(mailbox: string): PendingAction[];
  completeActions(ids: string[]): Promise<void>;
  /** For the API: only durable tickets are listed. */
  listTickets(q: ListTicketsQuery): TicketPage;
  /** For the API: the ticket with its articles (a copy), or null if unknown / not yet durable. */
  getTicket(id: string): Promise<Ticket | null>;
  /** Durable; false if the ticket does not exist. */
  setStatus(id: string, status: TicketStatus): Promise<boolean>;
  stats(): StoreStats;
  ioStats(): StoreIoStats;
  /** Read-only, for `mailroom store import`: everything the store holds but blobs (export.ts). */
  readonly contents: TicketStoreContents;
  /** Waits for queued work, flushes, releases the directory lock. */
  close(): Promise<void>;
}

/** What the ticket store holds, read without changing it (for `mailroom store import`). */
export interface TicketStoreContents {
  /** Every durable ticket, creation order, one segment at a time (only one segment parsed at once). */
  tickets(): AsyncGenerator<StoredTicket[]>;
  /** Every dedupe key (aliases of duplicates included) → its article. */
  keys(): IterableIterator<[string, ArticleRef]>;
  /** Every `<company>\0<message-id>` (normalized) → the first ticket that named it. */
  messageIds(): IterableIterator<[string, string]>;
  checkpoints(): CheckpointInput[];
  uidls(): { mailbox: string; uidls: string[] }[];
  pendingActions(): PendingAction[];
  /** Per ticket-id prefix the last number handed out, and the last server-action number. */
  counters(): { prefixes: Record<string, number>; lastActionId: number };
}

class LowdbTicketStore implements TicketStore {
  readonly #gc: FileGroupCommit;
  #ops: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** tickets with seq above this are not durable yet: hidden from the API */
  #visibleSeq: number;

  constructor(
    readonly path: string,
    readonly blobs: BlobStore,
    private readonly meta: MetaState,
    private readonly uidlSets: UidlSets,
    private readonly segments: Segments,
    private readonly ix: Indexes,
    private readonly release: () => Promise<void>,
  ) {
    this.#visibleSeq = meta.data.lastSeq;
    this.#gc = new FileGroupCommit(() => this.#plan());
  }

  #plan(): FlushPlan {
    // Snapshot everything at one instant (see group-commit.ts); phases give the crash-safe order.
    const segs = this.segments.snapshot();
    const meta = this.meta.snapshot();
    const uidls = this.uidlSets.snapshot();
    const seq = this.meta.data.lastSeq;
    return {
      phases: [segs, meta ? [meta] : [], uidls],
      onDurable: () => {
        if (seq > this.#visibleSeq) this.#visibleSeq = seq;
      },
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreError('closed', 'ticket store is closed');
    if (this.#gc.broken !== null) throw new StoreError('failed', `ticket store failed: ${String(this.#gc.broken)}`);
  }

  /**
   * Run an in-memory mutation (after loading the segments it needs) strictly after earlier ones, then
   * wait — outside the queue, so later mutations join the same flush — until it is durable.
   */
  async #mutate<T>(need: () => Iterable<number>, fn: () => T): Promise<T> {
    this.#assertOpen();
    const step = this.#ops.then(async () => {
      for (const no of need()) await this.segments.load(no);
      const value = fn();
      const durable = this.#gc.wait();
      this.segments.evict();
      return { value, durable };
    });
    this.#ops = step.catch(() => undefined);
    const { value, durable } = await step;
    await durable;
    return value;
  }

  commit(items: CommitItem[]): Promise<CommitResult[]> {
    try {
      validateItems(items);
    } catch (e) {
      return Promise.reject(e);
    }
    if (items.length === 0) return Promise.resolve([]);
    const ctx = { ix: this.ix, meta: this.meta, segments: this.segments, uidls: this.uidlSets };
    return this.#mutate(
      () => segmentsNeeded(this.ix, items),
      () => applyItems(ctx, items, new Date().toISOString()),
    );
  }

  hasKey(key: string): boolean {
    return this.ix.keys.has(key);
  }

  findKey(key: string): { ticketId: string; articleNo: number } | null {
    const ref = this.ix.keys.get(key);
    return ref ? { ticketId: ref.t, articleNo: ref.a } : null;
  }

  findByMessageIds(company: string, ids: string[]): string | null {
    return this.ix.findByMessageIds(company, ids);
  }

  findByTicketId(id: string): TicketSummary | null {
    const e = this.ix.byId.get(id);
    return e ? copySummary(e.summary) : null;
  }

  getCheckpoint(mailbox: string, folder: string): Checkpoint | null {
    return this.meta.getCheckpoint(mailbox, folder);
  }

  resetCheckpoint(mailbox: string, folder: string, uidValidity: number): Promise<void> {
    if (!Number.isInteger(uidValidity) || uidValidity < 0) return Promise.reject(new StoreError('bad-input', 'bad uidValidity'));
    return this.#mutate(
      () => [],
      () => void this.meta.resetCheckpoint(mailbox, folder, uidValidity),
    );
  }

  getCursor(mailbox: string, folder: string): string | null {
    return this.meta.getCursor(mailbox, folder);
  }

  /** Replace a folder's API sync cursor without a ticket (a page that brought nothing new). */
  saveCursor(mailbox: string, folder: string, value: string): Promise<void> {
    if (typeof value !== 'string' || value === '') return Promise.reject(new StoreError('bad-input', 'a cursor must be a non-empty string'));
    return this.#mutate(
      () => [],
      () => this.meta.setCursor(mailbox, folder, value),
    );
  }

  resetCursor(mailbox: string, folder: string): Promise<void> {
    return this.#mutate(
      () => [],
      () => this.meta.resetCursor(mailbox, folder),
    );
  }

  hasUidl(mailbox: string, uidl: string): boolean {
    return this.uidlSets.has(mailbox, uidl);
  }

  uidls(mailbox: string): Set<string> {
    return this.uidlSets.values(mailbox);
  }

  pruneUidls(mailbox: string, keep: Set<string>): Promise<number> {
    return this.#mutate(
      () => [],
      () => this.uidlSets.prune(mailbox, keep),
    );
  }

  pendingActions(mailbox: string): PendingAction[] {
    return this.meta.pendingFor(mailbox);
  }

  completeActions(ids: string[]): Promise<void> {
    return this.#mutate(
      () => [],
      () => void this.meta.complete(ids),
    );
  }

  listTickets(q: ListTicketsQuery): TicketPage {
    return listTickets(this.ix, this.#visibleSeq, q);
  }

  async getTicket(id: string): Promise<Ticket | null> {
    this.#assertOpen();
    const e = this.ix.byId.get(id);
    if (!e || e.seq > this.#visibleSeq) return null;
    const step = this.#ops.then(async () => {
      const seg = await this.segments.load(e.seg);
      const t = seg.byId.get(id);
      const copy = t ? structuredClone(t) : null;
      this.segments.evict();
      return copy;
    });
    this.#ops = step.catch(() => undefined);
    const t = await step;
    if (!t) return null;
    return { ...summaryOf(t), prefix: t.prefix, fields: t.fields, articles: t.articles.map(({ actions: _internal, ...a }) => a) };
  }

  setStatus(id: string, status: TicketStatus): Promise<boolean> {
    if (!isStatus(status)) return Promise.reject(new StoreError('bad-input', `bad status ${JSON.stringify(status)}`));
    return this.#mutate(
      () => {
        const e = this.ix.byId.get(id);
        return e ? [e.seg] : [];
      },
      () => {
        const e = this.ix.byId.get(id);
        const t = e ? this.segments.get(e.seg)?.byId.get(id) : undefined;
        if (!e || !t) return false;
        if (t.status === status) return true;
        const now = new Date().toISOString();
        t.status = status;
        t.updatedAt = now;
        e.summary.status = status;
        e.summary.updatedAt = now;
        this.segments.markDirty(e.seg, id);
        return true;
      },
    );
  }

  stats(): StoreStats {
    return { tickets: this.ix.byId.size, articles: this.ix.articles, pendingActions: this.meta.pendingCount };
  }

  ioStats(): StoreIoStats {
    return { flushes: this.#gc.flushes, fileWrites: this.#gc.fileWrites, waiters: this.#gc.waitersServed };
  }

  get contents(): TicketStoreContents {
    const { ix, meta, uidlSets, segments } = this;
    const visible = this.#visibleSeq;
    const queue = (fn: () => Promise<StoredTicket[]>): Promise<StoredTicket[]> => {
      const step = this.#ops.then(fn);
      this.#ops = step.catch(() => undefined);
      return step;
    };
    return {
      async *tickets() {
        const segs = [...new Set(ix.order.filter((e) => e.seq <= visible).map((e) => e.seg))].sort((a, b) => a - b);
        for (const no of segs) {
          const batch = await queue(async () => {
            const seg = await segments.load(no);
            const out = seg.db.data.tickets.filter((t) => t.seq <= visible).sort((a, b) => a.seq - b.seq);
            segments.evict();
            return out;
          });
          yield batch;
        }
      },
      keys: () => ix.keys.entries(),
      messageIds: () => ix.mids.entries(),
      checkpoints: () =>
        Object.entries(meta.data.checkpoints).flatMap(([mailbox, folders]) => Object.entries(folders).map(([folder, c]) => ({ mailbox, folder, uidValidity: c.uidValidity, uid: c.uid }))),
      uidls: () => uidlSets.mailboxes().map((mailbox) => ({ mailbox, uidls: [...uidlSets.values(mailbox)] })),
      pendingActions: () => meta.data.pending.map((p) => ({ ...p })),
      counters: () => ({ prefixes: { ...meta.data.counters }, lastActionId: meta.data.lastActionId }),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#ops;
      await this.#gc.idle();
    } finally {
      await this.release();
    }
  }
}

/** Open (creating if needed) the store under `dir`; rebuilds the in-memory indexes from the segments. */
export async function openTicketStore(dir: string, opts: TicketStoreOptions = {}): Promise<TicketStore> {
  const root = path.resolve(dir);
  const segDir = path.join(root, 'segments');
  const uidlDir = path.join(root, 'uidls');
  await mkdirDurable(segDir);
  await mkdirDurable(uidlDir);
  const release = await acquireStoreLock(root);
  try {
    const tightened = await tightenStoreModes(root);
    if (tightened.changed.length || tightened.refused.length) opts.onModesTightened?.(tightened);
    await Promise.all([removeStaleTemps(root), removeStaleTemps(segDir), removeStaleTemps(uidlDir)]);
    const blobs = await openBlobStore(root);
    await blobs.removeStaleTemps();
    const meta = await MetaState.open(root);
    const uidlSets = await UidlSets.open(uidlDir);
    const segments = new Segments(segDir, {
      maxTickets: opts.segmentTickets ?? 250,
      maxBytes: opts.segmentBytes ?? 1024 * 1024,
      cacheSize: opts.segmentCache ?? 8,
    });
    const ix = new Indexes();
    await segments.scan((no, tickets) => {
      for (const t of tickets) {
        ix.addTicket(t, no);
        // Segments are written before meta.json, so they may prove counters meta has not caught up with.
        const m = /-(\d+)$/.exec(t.id);
        meta.observeTicket(t.prefix, m ? Number.parseInt(m[1] as string, 10) : 0, t.seq);
        // ...and server actions whose meta.json write a crash prevented
        for (const a of t.articles) for (const action of a.actions ?? []) meta.restoreAction(action, t.id, a.no, a.createdAt);
      }
    });
    // A segment renamed into place just before a crash may be visible but its directory entry not yet
    // durable: the segment's content is relied on from now on (restored actions, dedupe keys).
    await fsyncDir(segDir);
    return new LowdbTicketStore(root, blobs, meta, uidlSets, segments, ix, release);
  } catch (e) {
    await release();
    throw e;
  }
}
