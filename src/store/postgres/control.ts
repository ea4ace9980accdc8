// Why this file exists: the PostgreSQL store's control port, shared by every replica: suspensions
// (a change is announced with NOTIFY in its own transaction, so a suspension by one replica stops the
// mailbox on all of them and a resume reaches all), OAuth token state with a version column for
// compare-and-set, and sliding-window counters kept as hit rows with their expiry (deleted when the
// key is hit again, and by a periodic sweep for keys that are not: growth is bounded by the hits
// inside one window); a batch of hits is one statement (planned in ../counter-batch.ts).
import { randomUUID } from 'node:crypto';
import { fingerprintKey } from './keys.js';
import type { MailboxOAuthState, SuspensionRecord } from '../control-types.js';
import type { ControlPort, HitRequest, SuspensionListener } from '../port.js';
import { hitAnswers, planHits } from '../counter-batch.js';
import type { Sql } from './connect.js';
import { StoreError } from '../types.js';

const SWEEP_EVERY_HITS = 1000;
/** First key of mailroom's OAuth refresh advisory locks (the migrations' lock uses another). */
const OAUTH_REFRESH_LOCK = 7256735;

export class PostgresControl implements ControlPort {
  readonly #listeners = new Set<SuspensionListener>();
  /** Notifications of this instance are skipped by its LISTEN: its own listeners were called directly. */
  readonly #origin = randomUUID();
  readonly #channel: string;
  #listening: Promise<{ unlisten(): Promise<void> } | null> | null = null;
  #hits = 0;

  readonly #schema: string;

  constructor(
    private readonly sql: Sql,
    schema: string,
  ) {
    this.#channel = `${schema}_suspensions`.slice(0, 63);
    this.#schema = schema;
  }

  /**
   * A session advisory lock per (schema, mailbox) on a reserved connection, tried every 100–250 ms
   * rather than waited for (a waiting replica holds one connection, not a blocked statement); the
   * session's end releases it if the replica dies. Needs session pooling in front of PostgreSQL.
   */
  async oauthRefreshExclusive<T>(mailbox: string, fn: () => Promise<T>, waitMs = 30_000): Promise<T> {
    const key = `${this.#schema}:${mailbox}`;
    const conn = await this.sql.reserve();
    try {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const [r] = await conn<{ ok: boolean }[]>`SELECT pg_try_advisory_lock(${OAUTH_REFRESH_LOCK}, hashtext(${key})) AS ok`;
        if (r!.ok) break;
        if (Date.now() >= deadline) throw new StoreError('failed', `OAuth2 refresh of mailbox ${mailbox}: another replica held its refresh for over ${Math.round(waitMs / 1000)} s`);
        await new Promise((res) => setTimeout(res, 100 + Math.random() * 150));
      }
      try {
        return await fn();
      } finally {
        await conn`SELECT pg_advisory_unlock(${OAUTH_REFRESH_LOCK}, hashtext(${key}))`.catch(() => undefined);
      }
    } finally {
      conn.release();
    }
  }

  async suspension(mailbox: string): Promise<SuspensionRecord | null> {
    const [r] = await this.sql<{ record: string }[]>`SELECT record FROM suspensions WHERE mailbox = ${mailbox}`;
    return r ? (JSON.parse(r.record) as SuspensionRecord) : null;
  }

  async suspensions(): Promise<SuspensionRecord[]> {
    const rows = await this.sql<{ record: string }[]>`SELECT record FROM suspensions ORDER BY mailbox`;
    return rows.map((r) => JSON.parse(r.record) as SuspensionRecord);
  }

  async setSuspension(r: SuspensionRecord): Promise<void> {
    await this.sql`
      WITH s AS (
        INSERT INTO suspensions (mailbox, record) VALUES (${r.mailbox}, ${JSON.stringify(r)})
        ON CONFLICT (mailbox) DO UPDATE SET record = excluded.record RETURNING mailbox
      )
      SELECT pg_notify(${this.#channel}, ${this.#payload(r.mailbox, r)}) FROM s`;
    this.#emit(r.mailbox, r);
  }

  async clearSuspension(mailbox: string): Promise<void> {
    const gone = await this.sql`
      WITH d AS (DELETE FROM suspensions WHERE mailbox = ${mailbox} RETURNING mailbox)
      SELECT pg_notify(${this.#channel}, ${this.#payload(mailbox, null)}) FROM d`;
    if (gone.length > 0) this.#emit(mailbox, null);
  }

  async fingerprintKey(): Promise<Buffer> {
    // The first replica (or import) to ask makes it; every later one reads the same row.
    return Buffer.from(await fingerprintKey(this.sql));
  }

  async legacyFingerprintSalt(): Promise<string | null> {
    return null; // suspension records in PostgreSQL were keyed from the start
  }

  watchSuspensions(fn: SuspensionListener): () => void {
    this.#listeners.add(fn);
    this.#listening ??= this.sql
      .listen(this.#channel, (payload) => void this.#remote(payload))
      .catch(() => null); // no LISTEN (e.g. a pooler in transaction mode): this replica's own changes still signal
    return () => this.#listeners.delete(fn);
  }

  async oauthState(mailbox: string): Promise<{ state: MailboxOAuthState; version: number }> {
    const [r] = await this.sql<{ version: string; state: string }[]>`SELECT version, state FROM oauth_state WHERE mailbox = ${mailbox}`;
    if (!r) return { state: { version: 1, mailbox, grants: {}, notices: {} }, version: 0 };
    return { state: JSON.parse(r.state) as MailboxOAuthState, version: Number(r.version) };
  }

  async casOAuthState(mailbox: string, version: number, next: MailboxOAuthState): Promise<boolean> {
    const state = JSON.stringify({ version: 1, mailbox, grants: next.grants, notices: next.notices } satisfies MailboxOAuthState);
    const rows =
      version === 0
        ? await this.sql`INSERT INTO oauth_state (mailbox, version, state) VALUES (${mailbox}, 1, ${state}) ON CONFLICT (mailbox) DO NOTHING RETURNING 1`
        : await this.sql`UPDATE oauth_state SET version = version + 1, state = ${state} WHERE mailbox = ${mailbox} AND version = ${version} RETURNING 1`;
    return rows.length === 1;
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<boolean> {
    return (await this.hits([{ key, limit, windowMs, now }]))[0]!;
  }

  async hits(requests: readonly HitRequest[]): Promise<boolean[]> {
    if (requests.length === 0) return [];
    const before = this.#hits;
    this.#hits += requests.length;
    if (Math.floor(this.#hits / SWEEP_EVERY_HITS) > Math.floor(before / SWEEP_EVERY_HITS)) {
      await this.sql`DELETE FROM counter_hits WHERE expires_at <= ${requests.at(-1)!.now}`;
    }
    // One statement for the batch (see counter-batch.ts): the counting SELECT sees the rows as of the
    // statement's start, the stored hits before this batch; the batch's own are counted by the plan.
    const plan = planHits(requests);
    const req = JSON.stringify(requests.map((r, i) => ({ ord: i, key: r.key, since: plan.since[i] })));
    const prune = JSON.stringify([...plan.prune].map(([key, upto]) => ({ key, upto })));
    const keep = JSON.stringify(plan.keep.map((h) => ({ key: h.key, at: h.at, expires_at: h.expiresAt })));
    const rows = await this.sql<{ ord: number; n: string }[]>`
      WITH gone AS (
        DELETE FROM counter_hits c USING jsonb_to_recordset(${prune}::text::jsonb) AS p(key text, upto bigint)
        WHERE c.key = p.key AND c.at <= p.upto
      ),
      ins AS (
        INSERT INTO counter_hits (key, at, expires_at)
        SELECT key, at, expires_at FROM jsonb_to_recordset(${keep}::text::jsonb) AS k(key text, at bigint, expires_at bigint)
      )
      SELECT r.ord, (SELECT count(*) FROM counter_hits c WHERE c.key = r.key AND c.at > r.since) AS n
      FROM jsonb_to_recordset(${req}::text::jsonb) AS r(ord int, key text, since bigint)`;
    const stored = new Array<number>(requests.length).fill(0);
    for (const r of rows) stored[r.ord] = Number(r.n);
    return hitAnswers(requests, plan, stored);
  }

  /** Stop listening (the pool's end closes the connection anyway). */
  async close(): Promise<void> {
    const l = await this.#listening;
    this.#listeners.clear();
    await l?.unlisten().catch(() => undefined);
  }

  /** The change itself travels with the notification (listeners see each change in order); a record
   *  too big for NOTIFY's 8000 bytes is left out and read by the listener. */
  #payload(mailbox: string, r: SuspensionRecord | null): string {
    const full = JSON.stringify({ o: this.#origin, m: mailbox, r });
    return Buffer.byteLength(full) < 7900 ? full : JSON.stringify({ o: this.#origin, m: mailbox });
  }

  #emit(mailbox: string, r: SuspensionRecord | null): void {
    for (const fn of [...this.#listeners]) fn(mailbox, r);
  }

  async #remote(payload: string): Promise<void> {
    let msg: { o?: string; m?: string; r?: SuspensionRecord | null };
    try {
      msg = JSON.parse(payload) as typeof msg;
    } catch {
      return;
    }
    if (msg.o === this.#origin || typeof msg.m !== 'string') return;
    const r = msg.r !== undefined ? msg.r : await this.suspension(msg.m).catch(() => undefined);
    if (r !== undefined) this.#emit(msg.m, r);
  }
}
