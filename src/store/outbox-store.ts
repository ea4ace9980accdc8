// Why this file exists: the durable outbox beside the ticket store (<store.path>/outbox/, its own LOCK).
// A message is acknowledged to the API only once its `put` record is durable, so SIGKILL loses nothing
// acknowledged. The state is replayed from the journal (outbox-journal.ts) at open.
//
// The commit point, and what happens to a message when the process dies during its attempt.
// An SMTP server can only accept a message after its end of data (`.`). Right after the sender has
// handed that dot to the kernel (commit-gate.ts) it writes a `commit <attempt>` record with a plain
// synchronous write(2); outcomes (sent / retrying / failed) are written the same way the moment the
// server's reply is in. The page cache outlives the process, and the kernel still delivers what it
// was given, so after SIGKILL (OOM kill, crash) a message whose attempt has no recorded outcome is:
//   - without a commit record → the server never got the end of data and cannot have accepted it
//     → queued again and sent: nothing is lost, nothing is duplicated;
//   - with a commit record → the server had the whole message and was deciding when we died. It is
//     counted as sent with `confirmed: false` and NEVER sent again: no duplicate. It is lost only
//     if the server refused it at the end of data (a 4xx/5xx on the dot) and we died before writing
//     that reply down — a window of microseconds after the reply arrives; the case shows as
//     `confirmed: false` in GET /v1/messages/:id and in the `unconfirmed` metric.
// The other window: dying in the microseconds between the kernel taking the dot and the write(2) of
// the commit record → the message is sent again, a duplicate with the same Message-ID (mail clients
// fold those). Records are fdatasync'd a few milliseconds later; a power loss in between can lose a
// commit record too — again a resend, never a loss. Enqueue (`put`) is fdatasync'd before the API
// answers 202.
import { mkdirDurable, removeStaleTemps } from './durable-file.js';
import { acquireStoreLock } from './lock.js';
import { OutboxJournal } from './outbox-journal.js';
import { StoreError } from './types.js';
import { sentPatch, TERMINAL, type JournalRecord, type OutboxEntry, type OutboxRecovery, type OutboxStoreOptions } from './outbox-types.js';

export { sentPatch, type OutboxRecovery, type OutboxStoreOptions };
import path from 'node:path';

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
    const opts = {
      retentionMs: options.retentionMs ?? 7 * 86_400_000,
      maxFinished: options.maxFinished ?? 100_000,
      compactBytes: options.compactBytes ?? 64 * 1024 * 1024,
    };
    const dir = path.join(path.resolve(storePath), 'outbox');
    await mkdirDurable(dir);
    const release = await acquireStoreLock(dir);
    try {
      await removeStaleTemps(dir);
      const { records, tornTail, files } = await OutboxJournal.replay(dir);
      const entries = new Map<string, OutboxEntry>();
      for (const r of records) applyRecord(entries, r);
      const recovery: OutboxRecovery = { unconfirmed: [], tornTail };
      const now = new Date().toISOString();
      for (const e of entries.values()) {
        if (TERMINAL.has(e.status)) continue;
        if (e.committed > e.attempts) {
          Object.assign(e, sentPatch(e, { at: now, response: null, confirmed: false, accepted: e.envelope.to }));
          e.attempts = e.committed;
          recovery.unconfirmed.push(e.id);
        }
        // Without a commit record it is simply queued or retrying again, as its record says.
      }
      prune(entries, opts, Date.now());
      const journal = await OutboxJournal.create(dir, serialize(entries), files);
      const store = new OutboxStore(dir, journal, opts, release, recovery);
      for (const e of entries.values()) {
        store.#entries.set(e.id, e);
        store.#index(e);
      }
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
    if (this.#entries.has(entry.id)) return Promise.reject(new StoreError('bad-input', `outbox entry ${entry.id} exists`));
    this.#entries.set(entry.id, entry);
    this.#index(entry);
    return this.#append({ t: 'put', e: entry });
  }

  /**
   * The commit point of attempt `attempt`: its end of data was handed to the kernel. Written with a
   * synchronous write(2) at once (no fsync: the page cache survives the death of the process).
   */
  markPastEndOfData(id: string, attempt: number): void {
    const e = this.#entries.get(id);
    if (!e || this.#closed || e.status !== 'sending' || e.committed >= attempt) return;
    e.committed = attempt;
    this.journal.appendSync({ t: 'commit', id, a: attempt });
  }

  /**
   * Apply a patch in memory and write it to the journal at once (synchronous write(2), so an outcome
   * — above all a 4xx/5xx reply after the commit point — survives the process dying right after it);
   * resolves once fdatasync'd. `sending` is never journaled.
   */
  update(id: string, patch: Partial<OutboxEntry>): Promise<void> {
    this.#assertOpen();
    const e = this.#entries.get(id);
    if (!e) return Promise.reject(new StoreError('bad-input', `unknown outbox entry ${id}`));
    Object.assign(e, patch, { updatedAt: new Date().toISOString() });
    if (TERMINAL.has(e.status)) e.raw = null;
    if (patch.status === 'sending') return Promise.resolve();
    const p: Partial<OutboxEntry> = { ...patch, updatedAt: e.updatedAt };
    if (TERMINAL.has(e.status)) p.raw = null;
    this.journal.appendSync({ t: 'set', id, p });
    if (this.journal.broken !== null) return Promise.reject(this.journal.broken);
    this.#maybeCompactSoon();
    return this.journal.sync();
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
    this.#maybeCompactSoon();
    return p;
  }

  #nextCheck = 0;

  #maybeCompactSoon(): void {
    if (this.journal.bytes <= Math.max(this.opts.compactBytes, this.#nextCheck)) return;
    // Counting the live size walks every entry: do it again only after another quarter of the budget.
    this.#nextCheck = this.journal.bytes + this.opts.compactBytes / 4;
    this.#maybeCompact();
  }

  #liveBytes(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += 600 + (e.raw?.length ?? 0);
    return n;
  }

  #maybeCompact(): void {
    if (this.journal.bytes < 2 * this.#liveBytes()) return;
    this.#nextCheck = 0;
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
