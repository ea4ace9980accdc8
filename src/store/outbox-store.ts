// Why this file exists: the durable outbox beside the ticket store (<store.path>/outbox/, its own LOCK).
// A message is acknowledged to the API only once its `put` record is durable, so SIGKILL loses nothing
// acknowledged. The state is replayed from the journal (outbox-journal.ts) at open.
//
// The commit point. Before the sender lets the SMTP end-of-data (`.`) go out for attempt N it makes a
// `commit N` record durable (markCommitting). The server can only accept a message after that dot.
// So after a crash:
//   - no commit record for the running attempt → the server never had a complete message → queued
//     again and sent (never a duplicate);
//   - commit record but no outcome → the process died between handing the server the end of data
//     and recording its reply. Our process died, not the network: the kernel still delivers the
//     bytes written, so the server had the whole message and decided. The message is recorded as
//     sent with `confirmed: false` and is NEVER sent again (no duplicate). It is lost only if the
//     server refused it at end of data in that same instant, or if the process died in the
//     microseconds between the durable marker and the write of the dot; both are visible as
//     `confirmed: false` in GET /v1/messages/:id and the metric, for a person to check.
import { mkdirDurable, removeStaleTemps } from './durable-file.js';
import { acquireStoreLock } from './lock.js';
import { OutboxJournal } from './outbox-journal.js';
import { TERMINAL, type JournalRecord, type OutboxEntry } from './outbox-types.js';
import path from 'node:path';

export interface OutboxStoreOptions {
  /** How long sent/failed messages stay visible to GET /v1/messages/:id (default 7 days). */
  retentionMs?: number;
  /** At most this many finished messages are kept for GET (default 100,000, oldest dropped first). */
  maxFinished?: number;
  /** Compact once the journal is this big and twice the live size (default 64 MiB). */
  compactBytes?: number;
}

export interface OutboxRecovery {
  /** Messages that were past the commit point when the process died: recorded as sent, unconfirmed. */
  unconfirmed: string[];
  /** Messages that had started an attempt without reaching the commit point: queued again. */
  requeued: number;
  tornTail: boolean;
}

export class OutboxStore {
  readonly #entries = new Map<string, OutboxEntry>();
  readonly #idem = new Map<string, string>();
  #closed = false;

  private constructor(
    readonly dir: string,
    private journal: OutboxJournal,
    private readonly opts: Required<OutboxStoreOptions>,
    private readonly release: () => Promise<void>,
    readonly recovery: OutboxRecovery,
  ) {}

  static async open(storePath: string, options: OutboxStoreOptions = {}): Promise<OutboxStore> {
    const opts = { retentionMs: 7 * 86_400_000, maxFinished: 100_000, compactBytes: 64 * 1024 * 1024, ...options };
    const dir = path.join(path.resolve(storePath), 'outbox');
    await mkdirDurable(dir);
    const release = await acquireStoreLock(dir);
    try {
      await removeStaleTemps(dir);
      const { records, tornTail, files } = await OutboxJournal.replay(dir);
      const entries = new Map<string, OutboxEntry>();
      for (const r of records) applyRecord(entries, r);
      const recovery: OutboxRecovery = { unconfirmed: [], requeued: 0, tornTail };
      const now = new Date().toISOString();
      for (const e of entries.values()) {
        if (TERMINAL.has(e.status)) continue;
        if (e.committed > e.attempts) {
          Object.assign(e, sentPatch(e, { at: now, response: null, confirmed: false, accepted: e.envelope.to }));
          e.attempts = e.committed;
          recovery.unconfirmed.push(e.id);
        } else if (e.status === 'sending') {
          e.status = e.attempts > 0 ? 'retrying' : 'queued';
          recovery.requeued++;
        }
      }
      prune(entries, opts, Date.now());
      const journal = await OutboxJournal.create(dir, serialize(entries), files);
      const store = new OutboxStore(dir, journal, opts, release, recovery);
      for (const e of entries.values()) store.#index(e);
      return store;
    } catch (e) {
      await release();
      throw e;
    }
  }

  get(id: string): OutboxEntry | undefined {
    return this.#entries.get(id);
  }

  findByIdempotencyKey(company: string | null, key: string): OutboxEntry | undefined {
    const id = this.#idem.get(`${company ?? ''}\0${key}`);
    return id ? this.#entries.get(id) : undefined;
  }

  /** Every entry, oldest first (Map insertion order = enqueue order). */
  entries(): IterableIterator<OutboxEntry> {
    return this.#entries.values();
  }

  get size(): number {
    return this.#entries.size;
  }

  get broken(): unknown {
    return this.journal.broken;
  }

  /** Durable enqueue: resolves once the message survives a crash. */
  add(entry: OutboxEntry): Promise<void> {
    this.#assertOpen();
    if (this.#entries.has(entry.id)) return Promise.reject(new Error(`outbox entry ${entry.id} exists`));
    this.#entries.set(entry.id, entry);
    this.#index(entry);
    return this.#append({ t: 'put', e: entry });
  }

  /** The commit point of attempt `attempt`: resolves once durable; only then may the end of data go out. */
  markCommitting(id: string, attempt: number): Promise<void> {
    this.#assertOpen();
    const e = this.#entries.get(id);
    if (!e) return Promise.reject(new Error(`unknown outbox entry ${id}`));
    e.committed = attempt;
    return this.#append({ t: 'commit', id, a: attempt });
  }

  /** Apply a patch in memory now and journal it; resolves once durable. `sending` is never journaled. */
  update(id: string, patch: Partial<OutboxEntry>): Promise<void> {
    this.#assertOpen();
    const e = this.#entries.get(id);
    if (!e) return Promise.reject(new Error(`unknown outbox entry ${id}`));
    Object.assign(e, patch, { updatedAt: new Date().toISOString() });
    if (TERMINAL.has(e.status)) e.raw = null;
    if (patch.status === 'sending') return Promise.resolve();
    const p: Partial<OutboxEntry> = { ...patch, updatedAt: e.updatedAt };
    if (TERMINAL.has(e.status)) p.raw = null;
    return this.#append({ t: 'set', id, p });
  }

  /** Resolves once everything journaled so far is durable. */
  flush(): Promise<void> {
    return this.journal.idle();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.journal.close();
    } finally {
      await this.release();
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('outbox is closed');
  }

  #index(e: OutboxEntry): void {
    if (e.idempotencyKey) this.#idem.set(`${e.company ?? ''}\0${e.idempotencyKey}`, e.id);
  }

  #append(rec: JournalRecord): Promise<void> {
    const p = this.journal.append(rec);
    if (this.journal.bytes > this.opts.compactBytes) this.#maybeCompact();
    return p;
  }

  #liveBytes(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += 600 + (e.raw?.length ?? 0);
    return n;
  }

  #maybeCompact(): void {
    if (this.journal.bytes < 2 * this.#liveBytes()) return;
    this.journal.requestCompaction(() => {
      const before = this.#entries.size;
      prune(this.#entries, this.opts, Date.now());
      if (this.#entries.size !== before) {
        this.#idem.clear();
        for (const e of this.#entries.values()) this.#index(e);
      }
      return serialize(this.#entries);
    });
  }
}

function applyRecord(entries: Map<string, OutboxEntry>, r: JournalRecord): void {
  switch (r.t) {
    case 'base':
      entries.clear();
      return;
    case 'put':
      entries.set(r.e.id, { ...r.e });
      return;
    case 'commit': {
      const e = entries.get(r.id);
      if (e && r.a > e.committed) e.committed = r.a;
      return;
    }
    case 'set': {
      const e = entries.get(r.id);
      if (e) Object.assign(e, r.p);
      return;
    }
  }
}

/** The patch that records a message as sent. */
export function sentPatch(e: OutboxEntry, o: { at: string; response: string | null; confirmed: boolean; accepted: string[] }): Partial<OutboxEntry> {
  return {
    status: 'sent',
    sentAt: o.at,
    response: o.response,
    confirmed: o.confirmed,
    accepted: [...new Set([...e.accepted, ...o.accepted])],
    envelope: { from: e.envelope.from, to: [] },
    nextAttemptAt: null,
    raw: null,
  };
}

function serialize(entries: Map<string, OutboxEntry>): string {
  const lines = [JSON.stringify({ t: 'base', v: 1, at: new Date().toISOString() } satisfies JournalRecord)];
  for (const e of entries.values()) {
    const copy = e.status === 'sending' ? { ...e, status: e.attempts > 0 ? ('retrying' as const) : ('queued' as const) } : e;
    lines.push(JSON.stringify({ t: 'put', e: copy } satisfies JournalRecord));
  }
  return lines.join('\n') + '\n';
}

/** Drop finished messages past the retention or beyond maxFinished (oldest first). */
function prune(entries: Map<string, OutboxEntry>, opts: Required<OutboxStoreOptions>, now: number): void {
  const finished: OutboxEntry[] = [];
  for (const e of entries.values()) if (TERMINAL.has(e.status)) finished.push(e);
  let excess = finished.length - opts.maxFinished;
  for (const e of finished) {
    const at = Date.parse(e.sentAt ?? e.failedAt ?? e.updatedAt);
    if (excess > 0 || now - at > opts.retentionMs) {
      entries.delete(e.id);
      excess--;
    }
  }
}
