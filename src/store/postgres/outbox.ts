// Why this file exists: the PostgreSQL store's outbox: whole messages (the raw MIME as bytea, the rest
// of the entry as JSON text), idempotency keys unique per company (a unique index), and a claimed
// queue (claim_owner, claim_until; FOR UPDATE SKIP LOCKED) shared by replicas.
//
// The commit point (see outbox-store.ts): markPastEndOfData records `committed` with an UPDATE; an
// entry found at claim time with committed > attempts belonged to an owner that died past its end of
// data: it is recorded as sent, unconfirmed, and never sent again (as the embedded outbox does at
// open). Unlike the embedded store's synchronous write(2), the UPDATE is sent when no other commit
// point is being written, else together with the others recorded meanwhile right after that one:
// the window in which a death means a resend (same Message-ID) is up to two round trips.
//
// Adds, commit points and settles are each written in one statement for all the calls made while
// the previous one of their kind was being written (statement-batch.ts): bench:outbound on
// PostgreSQL sent 3 statements per message, 0.33-0.50 with the three batched.
import { sentPatch } from '../outbox-store.js';
import { TERMINAL, type OutboxEntry } from '../outbox-types.js';
import type { ClaimRequest, OutboxPort, UnfinishedQuery } from '../port.js';
import { StoreError } from '../types.js';
import type { Sql, Tx } from './connect.js';
import { recordset, recordsetWithData } from './rows.js';
import { StatementBatch } from './statement-batch.js';

/** Finished messages stay visible this long (as the embedded outbox's default retention). */
const RETENTION_MS = 7 * 86_400_000;
const PRUNE_EVERY_MS = 10 * 60_000;
/** PostgreSQL's error for a \u0000 in text that jsonb cannot hold */
const UNTRANSLATABLE_CHARACTER = '22P05';
/** Group commit of adds and settles (statement-batch.ts): most per statement, and raw MIME bytes per add statement. */
const BATCH_MAX = 200;
const ADD_BATCH_BYTES = 8 * 1024 * 1024;

interface Settle {
  id: string;
  owner: string;
  patch: Partial<OutboxEntry>;
}

interface OutboxRow {
  entry: string;
  raw: Buffer | null;
  committed: number;
}

const COLUMNS = 'entry, raw, committed';

function entryOf(r: OutboxRow): OutboxEntry {
  const e = JSON.parse(r.entry) as OutboxEntry;
  e.raw = r.raw === null ? null : r.raw.toString('latin1');
  e.committed = Number(r.committed);
  return e;
}

/** The queried columns of an entry, and the rest of it (`data`, stored as the JSON text `entry`). */
export function queriedColumnsOf(e: OutboxEntry) {
  const { raw: _raw, ...data } = e;
  return {
    status: e.status,
    next_attempt_at: e.nextAttemptAt === null ? null : new Date(e.nextAttemptAt),
    attempts: e.attempts,
    raw: e.raw === null || TERMINAL.has(e.status) ? null : Buffer.from(e.raw, 'latin1'),
    finished_at: TERMINAL.has(e.status) ? new Date(e.sentAt ?? e.failedAt ?? e.updatedAt) : null,
    data,
  };
}

/** The columns of an entry, `entry` as JSON text. */
export function columnsOf(e: OutboxEntry) {
  const { data, ...c } = queriedColumnsOf(e);
  return { ...c, entry: JSON.stringify(data) };
}

export class PostgresOutbox implements OutboxPort {
  #lastPrune = 0;

  constructor(private readonly sql: Sql) {}

  readonly #adds = new StatementBatch<OutboxEntry, { entry: OutboxEntry; existing: boolean }>((es) => this.#addMany(es), {
    max: BATCH_MAX,
    weight: (e) => e.raw?.length ?? 0,
    maxWeight: ADD_BATCH_BYTES,
  });
  readonly #settles = new StatementBatch<Settle, void>((ss) => this.#settleMany(ss), { max: BATCH_MAX });
  readonly #marks = new StatementBatch<{ id: string; attempt: number }, void>((ms) => this.#markMany(ms), { max: BATCH_MAX });

  /** Adds made while another is being written go together in one INSERT (StatementBatch). */
  add(entry: OutboxEntry): Promise<{ entry: OutboxEntry; existing: boolean }> {
    return this.#adds.run(entry);
  }

  async #addMany(entries: OutboxEntry[]): Promise<({ entry: OutboxEntry; existing: boolean } | Error)[]> {
    const rows = entries.map((e) => {
      const c = queriedColumnsOf(e);
      return { ...c, id: e.id, company: e.company, idempotency_key: e.idempotencyKey, committed: e.committed, raw: c.raw?.toString('base64') ?? null };
    });
    // (json_to_recordset keeps the rows' order: seq, the claim order, follows the calls'; the entry
    // goes as a JSON value, encoded once: recordsetWithData)
    const inserted = await this.sql<{ id: string }[]>`
      INSERT INTO outbox (id, company, idempotency_key, status, next_attempt_at, attempts, committed, entry, raw, finished_at)
      SELECT id, company, idempotency_key, status, next_attempt_at, attempts, committed, coalesce(data_text, data::text), decode(raw, 'base64'), finished_at
      FROM json_to_recordset(${recordsetWithData(rows)}::text::json)
        AS x(id text, company text, idempotency_key text, status text, next_attempt_at timestamptz, attempts integer, committed integer, data json, data_text text, raw text, finished_at timestamptz)
      ON CONFLICT DO NOTHING RETURNING id`;
    const ids = new Set(inserted.map((r) => r.id));
    // An id twice in one batch: the first row was inserted, the later ones met it (DO NOTHING).
    const first = new Set<string>();
    return Promise.all(
      entries.map(async (entry) => {
        if (ids.has(entry.id) && !first.has(entry.id)) {
          first.add(entry.id);
          return { entry, existing: false };
        }
        if (entry.idempotencyKey) {
          const hit = await this.findByIdempotencyKey(entry.company, entry.idempotencyKey);
          if (hit) return { entry: hit, existing: true };
        }
        return new StoreError('bad-input', `outbox entry ${entry.id} exists`);
      }),
    );
  }

  async get(id: string): Promise<OutboxEntry | null> {
    const [r] = await this.sql<OutboxRow[]>`SELECT ${this.sql.unsafe(COLUMNS)} FROM outbox WHERE id = ${id}`;
    return r ? entryOf(r) : null;
  }

  async findByIdempotencyKey(company: string | null, key: string): Promise<OutboxEntry | null> {
    const [r] = await this.sql<OutboxRow[]>`
      SELECT ${this.sql.unsafe(COLUMNS)} FROM outbox WHERE coalesce(company, '') = ${company ?? ''} AND idempotency_key = ${key}`;
    return r ? entryOf(r) : null;
  }

  async claimDue(req: ClaimRequest): Promise<OutboxEntry[]> {
    if (req.now - this.#lastPrune > PRUNE_EVERY_MS) {
      this.#lastPrune = req.now;
      await this.sql`DELETE FROM outbox WHERE status IN ('sent', 'failed') AND finished_at < ${new Date(Date.now() - RETENTION_MS)}`;
    }
    const limit = Math.max(0, Math.floor(req.limit));
    if (limit === 0) return [];
    return (await this.sql.begin(async (tx) => {
      const rows = await tx<(OutboxRow & { id: string; attempts: number; claim_owner: string | null })[]>`
        SELECT id, attempts, claim_owner, ${tx.unsafe(COLUMNS)} FROM outbox
        WHERE status IN ('queued', 'retrying', 'sending')
          AND (next_attempt_at IS NULL OR next_attempt_at <= ${new Date(req.now)})
          AND (claim_until IS NULL OR claim_until <= ${req.now})
        ORDER BY seq LIMIT ${limit}
        FOR UPDATE SKIP LOCKED`;
      const out: OutboxEntry[] = [];
      const recovered: OutboxEntry[] = [];
      for (const r of rows) {
        const e = entryOf(r);
        // Its last owner died past the end of data: the server had the whole message. Sent, unconfirmed.
        if (e.committed > e.attempts) {
          Object.assign(e, sentPatch(e, { at: new Date().toISOString(), response: null, confirmed: false, accepted: e.envelope.to }), { attempts: e.committed });
          e.updatedAt = new Date().toISOString();
          recovered.push(e);
        } else out.push(e);
      }
      // a claim still set (settle and release clear it) but expired: its claimer died or stalled
      const claimed = new Set(out.map((e) => e.id));
      const takenOver = rows.filter((r) => r.claim_owner !== null && claimed.has(r.id)).map((r) => r.id);
      if (takenOver.length) req.onTakenOver?.(takenOver);
      await Promise.all([
        ...recovered.map((e) => write(tx, e, null)),
        out.length ? tx`UPDATE outbox SET claim_owner = ${req.owner}, claim_until = ${req.now + req.ttlMs} WHERE id = ANY(${out.map((e) => e.id)}::text[])` : Promise.resolve(),
      ]);
      return out;
    })) as OutboxEntry[];
  }

  /**
   * Commit points recorded meanwhile go together in one UPDATE (StatementBatch): the call's is sent
   * at once when none is being written, else right after the one being written (see the header).
   */
  markPastEndOfData(id: string, attempt: number): Promise<void> {
    return this.#marks.run({ id, attempt });
  }

  async #markMany(marks: { id: string; attempt: number }[]): Promise<void[]> {
    const highest = new Map<string, number>();
    for (const m of marks) highest.set(m.id, Math.max(m.attempt, highest.get(m.id) ?? 0));
    const rows = [...highest].map(([id, attempt]) => ({ id, attempt }));
    await this.sql`
      UPDATE outbox o SET committed = x.attempt FROM json_to_recordset(${recordset(rows)}::text::json) AS x(id text, attempt integer)
      WHERE o.id = x.id AND o.committed < x.attempt AND o.status NOT IN ('sent', 'failed')`;
    return marks.map(() => undefined);
  }

  /** Settles made while others are being written go together in one UPDATE (StatementBatch), in call order per id. */
  settle(id: string, owner: string, patch: Partial<OutboxEntry>): Promise<void> {
    return this.#settles.run({ id, owner, patch });
  }

  async #settleMany(all: Settle[]): Promise<(void | Error)[]> {
    if (all.length === 1) {
      const { id, owner, patch } = all[0]!;
      try {
        return await this.#settleRound(all);
      } catch (e) {
        // jsonb refuses \u0000, which a server's reply or error text may carry (in the patch or already
        // stored): the statement changed nothing; merge in a transaction here instead, as JSON text.
        // (A batch of several that meets one fails as a whole: StatementBatch then settles each alone.)
        if ((e as { code?: string }).code === UNTRANSLATABLE_CHARACTER) return [await this.#settleInTransaction(id, owner, patch, new Date().toISOString())];
        throw e;
      }
    }
    // An UPDATE sets a row once: the n-th settle of each id goes in the n-th statement, in order.
    const out: (void | Error)[] = new Array<void | Error>(all.length);
    const seen = new Map<string, number>();
    const rounds: number[][] = [];
    all.forEach((x, i) => {
      const n = seen.get(x.id) ?? 0;
      seen.set(x.id, n + 1);
      (rounds[n] ??= []).push(i);
    });
    for (const round of rounds) (await this.#settleRound(round.map((i) => all[i]!))).forEach((o, k) => (out[round[k]!] = o));
    return out;
  }

  /**
   * One statement for settles of distinct ids (it was BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT per
   * settle): the claim check and the merge of each patch into its stored entry are in the UPDATE, so
   * they see the row it writes (a concurrent writer's change is re-read under the row lock, as FOR
   * UPDATE did). See settleParams. Each settle's outcome: done, unknown id, or claimed by another.
   */
  async #settleRound(settles: Settle[]): Promise<(void | Error)[]> {
    const updatedAt = new Date().toISOString();
    const rows = settles.map(({ id, owner, patch }) => {
      const p = settleParams(patch, updatedAt);
      return {
        id, owner, keys: p.keys, json: p.json, status: p.status, attempts: p.attempts, has_next_attempt_at: p.hasNextAttemptAt, next_attempt_at: p.nextAttemptAt,
        committed: p.committed, has_raw: p.hasRaw, raw: p.raw?.toString('base64') ?? null, has_sent_at: p.hasSentAt, sent_at: p.sentAt, has_failed_at: p.hasFailedAt, failed_at: p.failedAt,
      };
    });
    const done = await this.sql<{ id: string }[]>`
      UPDATE outbox o SET
        entry = ((o.entry::jsonb - ARRAY(SELECT json_array_elements_text(p.keys))) || p.json::jsonb)::text,
        status = coalesce(p.status, o.status),
        attempts = coalesce(p.attempts, o.attempts),
        next_attempt_at = CASE WHEN p.has_next_attempt_at THEN p.next_attempt_at ELSE o.next_attempt_at END,
        committed = GREATEST(o.committed, coalesce(p.committed, 0)),
        raw = CASE WHEN coalesce(p.status, o.status) IN ('sent', 'failed') THEN NULL
                   WHEN p.has_raw THEN decode(p.raw, 'base64') ELSE o.raw END,
        finished_at = CASE WHEN coalesce(p.status, o.status) IN ('sent', 'failed') THEN coalesce(
                        CASE WHEN p.has_sent_at THEN p.sent_at ELSE o.entry::jsonb ->> 'sentAt' END,
                        CASE WHEN p.has_failed_at THEN p.failed_at ELSE o.entry::jsonb ->> 'failedAt' END,
                        ${updatedAt}::text)::timestamptz END,
        claim_owner = NULL, claim_until = NULL
      FROM json_to_recordset(${recordset(rows)}::text::json)
        AS p(id text, owner text, keys json, json text, status text, attempts integer, has_next_attempt_at boolean, next_attempt_at timestamptz, committed integer,
             has_raw boolean, raw text, has_sent_at boolean, sent_at text, has_failed_at boolean, failed_at text)
      WHERE o.id = p.id AND (o.claim_owner IS NULL OR o.claim_owner = p.owner OR o.claim_until <= ${Date.now()})
      RETURNING o.id`;
    const ok = new Set(done.map((r) => r.id));
    const missed = settles.filter((x) => !ok.has(x.id)).map((x) => x.id);
    const exist = missed.length ? new Set((await this.sql<{ id: string }[]>`SELECT id FROM outbox WHERE id = ANY(${missed}::text[])`).map((r) => r.id)) : new Set<string>();
    return settles.map(({ id }) =>
      ok.has(id) ? undefined : exist.has(id) ? new StoreError('claimed', `outbox entry ${id} is claimed by another owner`) : new StoreError('bad-input', `unknown outbox entry ${id}`),
    );
  }

  async #settleInTransaction(id: string, owner: string, patch: Partial<OutboxEntry>, updatedAt: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      const [r] = await tx<(OutboxRow & { claim_owner: string | null; claim_until: string | null })[]>`
        SELECT ${tx.unsafe(COLUMNS)}, claim_owner, claim_until FROM outbox WHERE id = ${id} FOR UPDATE`;
      if (!r) throw new StoreError('bad-input', `unknown outbox entry ${id}`);
      if (r.claim_owner !== null && r.claim_owner !== owner && Number(r.claim_until) > Date.now()) {
        throw new StoreError('claimed', `outbox entry ${id} is claimed by another owner`);
      }
      const e = entryOf(r);
      Object.assign(e, patch, { updatedAt });
      if (TERMINAL.has(e.status)) e.raw = null;
      await write(tx, e, null);
    });
  }

  async release(ids: string[], owner: string): Promise<void> {
    if (ids.length === 0) return;
    await this.sql`UPDATE outbox SET claim_owner = NULL, claim_until = NULL WHERE id = ANY(${ids}::text[]) AND claim_owner = ${owner}`;
  }

  async unfinished(opts: UnfinishedQuery = {}): Promise<OutboxEntry[]> {
    if (!opts.live) {
      const rows = await this.sql<OutboxRow[]>`SELECT ${this.sql.unsafe(COLUMNS)} FROM outbox WHERE status <> 'sent' ORDER BY seq`;
      return rows.map(entryOf);
    }
    // The active sender polls this every 2 s: only unfinished rows (the partial index outbox_open,
    // not a scan of the finished ones kept for a week), and whole rows (raw MIME included) only for
    // the ids it does not hold yet.
    const skip = opts.skip ?? new Set<string>();
    const ids = (await this.sql<{ id: string }[]>`SELECT id FROM outbox WHERE status NOT IN ('sent', 'failed') ORDER BY seq`).map((r) => r.id).filter((id) => !skip.has(id));
    if (ids.length === 0) return [];
    const rows = await this.sql<OutboxRow[]>`
      SELECT ${this.sql.unsafe(COLUMNS)} FROM outbox WHERE id = ANY(${ids}::text[]) AND status NOT IN ('sent', 'failed') ORDER BY seq`;
    return rows.map(entryOf);
  }
}

/**
 * settle()'s parameters: Object.assign(stored, patch, { updatedAt }) done by the UPDATE. The JSON of
 * the patch replaces the stored keys it names; `keys` also names the patch's undefined-valued keys
 * (Object.assign sets them, JSON.stringify then drops them: they go). The queried columns follow the
 * merged entry: a key the patch does not name keeps its column (which mirrors the entry). `raw` is a
 * column, not JSON; `committed` only grows (as write() does).
 */
export function settleParams(patch: Partial<OutboxEntry>, updatedAt: string) {
  const { raw, ...rest } = { ...patch, updatedAt };
  const has = (k: keyof OutboxEntry) => Object.prototype.hasOwnProperty.call(patch, k);
  return {
    keys: Object.keys(rest),
    json: JSON.stringify(rest),
    status: patch.status ?? null,
    attempts: patch.attempts ?? null,
    hasNextAttemptAt: has('nextAttemptAt'),
    nextAttemptAt: patch.nextAttemptAt ?? null,
    committed: patch.committed ?? null,
    hasRaw: has('raw'),
    raw: raw === undefined || raw === null ? null : Buffer.from(raw, 'latin1'),
    hasSentAt: has('sentAt'),
    sentAt: patch.sentAt ?? null,
    hasFailedAt: has('failedAt'),
    failedAt: patch.failedAt ?? null,
    updatedAt,
  };
}

/** Write the whole entry back (its queried columns follow it) and set the claim. */
function write(tx: Tx, e: OutboxEntry, claimOwner: string | null): Promise<unknown> {
  const c = columnsOf(e);
  return tx`
    UPDATE outbox SET status = ${c.status}, next_attempt_at = ${c.next_attempt_at}, attempts = ${c.attempts}, committed = GREATEST(committed, ${e.committed}),
      entry = ${c.entry}, raw = ${c.raw}, finished_at = ${c.finished_at}, claim_owner = ${claimOwner}, claim_until = NULL
    WHERE id = ${e.id}`;
}
