// Why this file exists: what the PostgreSQL store promises beyond the shared contract suite, on a real
// PostgreSQL: migrations run once when replicas open together, a newer schema is refused, a commit
// costs the same statements whatever the batch size, concurrent commits of one message make one
// article, claims of two replicas never overlap, suspensions reach another replica, leases fence,
// and the URL's password never shows in an error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IntakeItem } from '../../src/store/port.js';
import { openPostgresStores, type PostgresStores } from '../../src/store/postgres/stores.js';
import { loadMigrations } from '../../src/store/postgres/migrate.js';
import type { PostgresStoreConfig } from '../../src/store/postgres/config.js';
import { sampleItem } from '../support/store-sample.js';
import { openStores } from '../../src/store/open.js';
import { Secret } from '../../src/config/secret.js';
import type { SuspensionRecord } from '../../src/store/control-types.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { startOAuthServer } from '../peers/oauth.js';
import { OAuthManager } from '../../src/oauth/manager.js';
import { OAuthStateStore } from '../../src/oauth/token-state.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ResolvedAuth } from '../../src/config/snapshot.js';

let pg: PostgresPeer;
let n = 0;
const open: PostgresStores[] = [];
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await Promise.allSettled(open.map((s) => s.close()));
  await pg?.destroy();
});

async function store(o: Partial<PostgresStoreConfig> = {}): Promise<PostgresStores> {
  const s = await openPostgresStores({ url: pg.url(), schema: `t_${++n}`, poolMax: 4, ...o });
  open.push(s);
  return s;
}

const F = { mailbox: 'support', epoch: 0 };
const items = (from: number, count: number, o: { webhooks?: string[] } = {}): IntakeItem[] =>
  Array.from({ length: count }, (_, i) => ({ ...sampleItem({ uid: from + i }), ...(o.webhooks && { deliveries: { webhooks: o.webhooks, gated: false } }) }));

describe('PostgreSQL store', () => {
  it('two replicas opening an empty database together migrate it once', async () => {
    const url = await pg.createDatabase('fresh_db');
    const [a, b] = await Promise.all([openPostgresStores({ url, poolMax: 2 }), openPostgresStores({ url, poolMax: 2 })]);
    open.push(a, b);
    const all = (await loadMigrations()).map((m) => m.version);
    expect([a.migration.applied, b.migration.applied].sort()).toEqual([[], all]);
    const rows = await pg.query<{ version: number }>('SELECT version FROM mailroom.schema_migrations', [], 'fresh_db');
    expect(rows.map((r) => r.version)).toEqual(all);
    // and both work
    await a.intake.commit(items(1, 1), F);
    expect((await b.tickets.stats()).tickets).toBe(1);
  });

  it('compresses mail content with lz4 (not pglz, the costliest part of ingest on the server), and runs every statement with a plan for its values', async () => {
    const s = await store();
    const rows = await pg.query<{ col: string; method: string }>(
      `SELECT c.relname || '.' || a.attname AS col, a.attcompression AS method FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND (c.relname, a.attname) IN (('blob_chunks', 'data'), ('articles', 'data'), ('outbox', 'raw'), ('outbox', 'entry'))
       ORDER BY 1`,
      [s.schema],
    );
    expect(rows).toEqual([
      { col: 'articles.data', method: 'l' },
      { col: 'blob_chunks.data', method: 'l' },
      { col: 'outbox.entry', method: 'l' },
      { col: 'outbox.raw', method: 'l' },
    ]);
    // A generic plan chosen while a table was empty (a new store) scanned the whole table for every
    // key lookup until autovacuum's first ANALYZE: 11 ms per intake lookup at 10,000 keys.
    const [mode] = await s.sql<{ plan_cache_mode: string }[]>`SHOW plan_cache_mode`;
    expect(mode?.plan_cache_mode).toBe('force_custom_plan');
  });

  it("intake lookups and writes use indexes: no full scan of tickets, articles or keys per batch", async () => {
    // (a tickets lookup by id OR by a Message-ID's ticket scanned every ticket for every batch that
    // threads replies: 4.4 ms at 50,000 tickets, growing with the store; the replies' UPDATE of
    // their tickets from the batch's recordset was a hash join over all tickets at random_page_cost 4.
    // message_ids is left out: at 3,000 rows a hash join over it is still the cheaper plan; at 10,000
    // it is looked up by index (EXPLAIN), at random_page_cost 4 not before ~20,000.)
    const schema = `t_${++n}`;
    const filler = await openPostgresStores({ url: pg.url(), schema, poolMax: 4 });
    for (let b = 0; b < 6; b++) await filler.intake.commit(Array.from({ length: 500 }, (_, i) => sampleItem({ uid: b * 500 + i + 1 })), F);
    await filler.close();
    await pg.query(`ANALYZE ${schema}.tickets, ${schema}.articles, ${schema}.dedupe_keys, ${schema}.message_ids`);
    // A backend reports its scan counters when it ends (idle, only every 10 s): read them once the
    // store that scanned has closed its connections and they stopped changing.
    const scans = async () => {
      let last = '';
      for (let i = 0; i < 40; i++) {
        const rows = await pg.query<{ relname: string; seq_scan: string }>(
          `SELECT relname, seq_scan FROM pg_stat_user_tables WHERE schemaname = $1 AND relname IN ('tickets', 'articles', 'dedupe_keys') ORDER BY relname`,
          [schema],
        );
        const now = JSON.stringify(Object.fromEntries(rows.map((r) => [r.relname, Number(r.seq_scan)])));
        if (now === last) return JSON.parse(now) as Record<string, number>;
        last = now;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error('scan counters kept changing');
    };
    const before = await scans();
    const s = await openPostgresStores({ url: pg.url(), schema, poolMax: 4 });
    for (let i = 0; i < 3; i++) {
      const f = await s.intake.facts({
        keys: ['imap:support:1:7', 'mid:acme:<m9.support@example.com>'],
        articlesOf: ['mid:acme:<m9.support@example.com>'],
        threadIds: [{ company: 'acme', ids: ['<m9.support@example.com>', '<m10.support@example.com>', '<nope@x>'] }],
        ticketIds: ['ACME-000011', 'ACME-009999'],
        threadTickets: true,
      });
      expect(f.tickets.size).toBe(3);
      expect(f.threadIds.size).toBe(2);
      // replies to old tickets: their ticket rows updated from the batch's recordset
      const r = await s.intake.commit([1, 2, 3].map((k) => sampleItem({ uid: 10_000 + i * 3 + k, messageId: `<reply${i}.${k}@x>`, threadTo: `ACME-00000${k}` })), F);
      expect(r.map((x) => [x.ticketId, x.created])).toEqual([1, 2, 3].map((k) => [`ACME-00000${k}`, false]));
    }
    await s.close();
    expect(await scans()).toEqual(before);
  });

  it('articles written by binary COPY read back as written: ticket, number, time and JSON', async () => {
    const s = await store();
    const before = Date.now();
    const [r] = await s.intake.commit([sampleItem({ uid: 1, messageId: '<copy@x>' })], F);
    const [row] = await pg.query<{ ticket_id: string; no: number; created_at: Date; data: string }>(`SELECT ticket_id, no, created_at, data FROM ${s.schema}.articles`);
    expect([row!.ticket_id, row!.no]).toEqual([r!.ticketId, 1]);
    expect(row!.created_at.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(row!.created_at.getTime()).toBeLessThanOrEqual(Date.now() + 1);
    expect(JSON.parse(row!.data)).toMatchObject({ messageId: '<copy@x>' });
    expect((await s.tickets.get(r!.ticketId))?.articles[0]).toMatchObject({ messageId: '<copy@x>' });
  });

  it('refuses a schema newer than it knows, with a clear error', async () => {
    const s = await store();
    await pg.query(`INSERT INTO ${s.schema}.schema_migrations (version, name) VALUES (999, 'from_the_future')`);
    await expect(openPostgresStores({ url: pg.url(), schema: s.schema })).rejects.toThrow(/schema "t_\d+" is at version 999, newer than this mailroom knows \(\d+\)/);
  });

  it('a commit sends the same number of statements for 1 item and for 300 (no statement per item)', async () => {
    const statements: string[] = [];
    const s = await store({ onStatement: (q) => statements.push(q) });
    await s.intake.commit(items(1, 1, { webhooks: ['erp'] }), F); // first commit: counters rows are created
    statements.length = 0;
    await s.intake.commit(items(2, 1, { webhooks: ['erp'] }), F);
    const one = statements.length;
    statements.length = 0;
    const r = await s.intake.commit(items(100, 300, { webhooks: ['erp'] }), F);
    expect(r).toHaveLength(300);
    expect(statements.length).toBe(one);
    expect(s.intake.lastCommitRoundTrips).toBeLessThanOrEqual(7); // BEGIN, 3 pipelined, the articles' COPY (2), COMMIT
    const facts = () => s.intake.facts({ keys: r.map((_, i) => `imap:support:1:${100 + i}`), threadIds: [{ company: 'acme', ids: ['<a@x>', '<b@x>'] }], ticketIds: ['ACME-000001', 'ACME-000002'] });
    await facts(); // statements are prepared on first use
    statements.length = 0;
    await facts();
    expect(statements.length).toBe(3);
    expect((await s.tickets.stats()).tickets).toBe(302);
  });

  it('a batch of counter hits is one statement; an outbox settle is one statement and dates the finished entry by its sentAt', async () => {
    const statements: string[] = [];
    const s = await store({ onStatement: (q) => statements.push(q) });
    const t = 1_000_000;
    const reqs = Array.from({ length: 100 }, (_, i) => ({ key: `acme:s${i % 7}@x`, limit: 10, windowMs: 3_600_000, now: t + i }));
    statements.length = 0;
    const over = await s.control.hits(reqs);
    expect(statements).toHaveLength(1);
    expect(over.filter(Boolean)).toHaveLength(100 - 7 * 10); // 15 hits for keys 0 and 1, 14 for the rest: all past 10
    const at = new Date().toISOString();
    const entry = { id: 'msg_1', createdAt: at, updatedAt: at, purpose: 'message', company: 'acme', request: { kind: 'user', company: 'acme' }, mailbox: 'desk', ticket: null, idempotencyKey: null, messageId: 'm1@x', subject: 'Hi', envelope: { from: 'desk@acme.example', to: ['a@b.example'] }, raw: 'Subject: Hi\r\n\r\nHi\r\n', size: 20, status: 'queued', attempts: 0, committed: 0, nextAttemptAt: null, accepted: [], rejected: [], response: null, confirmed: null, possibleDuplicate: false, lastError: null, sentAt: null, failedAt: null } as const;
    await s.outbox.add(entry as unknown as Parameters<typeof s.outbox.add>[0]);
    const sentAt = '2026-01-02T03:04:05.000Z';
    statements.length = 0;
    await s.outbox.settle('msg_1', 'w', { status: 'sent', attempts: 1, sentAt });
    expect(statements).toHaveLength(1);
    const [row] = await s.sql<{ finished_at: Date; raw: Buffer | null; claim_owner: string | null }[]>`SELECT finished_at, raw, claim_owner FROM outbox WHERE id = 'msg_1'`;
    expect(row).toEqual({ finished_at: new Date(sentAt), raw: null, claim_owner: null });
  });

  it('concurrent commits of one message from two replicas make one article; the other is a duplicate', async () => {
    const a = await store();
    const b = await openPostgresStores({ url: pg.url(), schema: a.schema, poolMax: 2 });
    open.push(b);
    for (let i = 0; i < 10; i++) {
      const mid = `<race${i}@x>`;
      const [ra, rb] = await Promise.all([
        a.intake.commit([sampleItem({ uid: i + 1, mailbox: 'm1', messageId: mid })], { mailbox: 'm1', epoch: 0 }),
        b.intake.commit([sampleItem({ uid: i + 1, mailbox: 'm2', messageId: mid })], { mailbox: 'm2', epoch: 0 }),
      ]);
      expect([ra[0]!.duplicate, rb[0]!.duplicate].sort()).toEqual([false, true]);
      expect(ra[0]!.ticketId).toBe(rb[0]!.ticketId);
    }
    expect(await a.tickets.stats()).toMatchObject({ tickets: 10, articles: 10, pendingActions: 20 });
  });

  it('two replicas claiming deliveries at once never get the same one; per-ticket order holds across them', async () => {
    const a = await store();
    const b = await openPostgresStores({ url: pg.url(), schema: a.schema, poolMax: 2 });
    open.push(b);
    await a.intake.commit(items(1, 40, { webhooks: ['erp'] }), F);
    // a second article on ticket 1: must not be claimed while the first is in flight
    await a.intake.commit([{ ...sampleItem({ uid: 99, threadTo: 'ACME-000001' }), deliveries: { webhooks: ['erp'], gated: false } }], F);
    const now = Date.now() + 1;
    const [ca, cb] = await Promise.all([
      a.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now, capacity: { erp: 30 } }),
      b.deliveries.claimDue({ owner: 'b', ttlMs: 60_000, now, capacity: { erp: 30 } }),
    ]);
    const ids = [...ca, ...cb].map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(40);
    expect([...ca, ...cb].every((d) => d.articleNo === 1)).toBe(true);
  });

  it('a suspension set by one replica reaches the other (NOTIFY)', async () => {
    const a = await store();
    const b = await openPostgresStores({ url: pg.url(), schema: a.schema, poolMax: 2 });
    open.push(b);
    const heard: [string, boolean][] = [];
    b.control.watchSuspensions((m, r) => heard.push([m, r !== null]));
    await new Promise((r) => setTimeout(r, 200)); // LISTEN is set up
    const rec: SuspensionRecord = { mailbox: 'desk', reason: 'x', code: null, error: null, source: 'server', at: new Date().toISOString(), credentials: 'fp', notified: false };
    await a.control.setSuspension(rec);
    await a.control.clearSuspension('desk');
    await expect.poll(() => heard, { timeout: 5_000 }).toEqual([['desk', true], ['desk', false]]);
  });

  it('cluster.renew keeps renewing round after round (its recordset parameter is not JSON-encoded twice once the statement is prepared)', async () => {
    const s = await store({ poolMax: 1 });
    const cluster = s.cluster!;
    const fences = [(await cluster.acquire('a', 'r1', 60_000))!, (await cluster.acquire('b', 'r1', 60_000))!];
    for (let round = 0; round < 5; round++) expect(await cluster.renew(fences, 'r1', 60_000)).toEqual(fences);
  });

  it('a replica stalled inside a transaction (SIGSTOP, GC) loses it after half the lease TTL, so its row locks never hold up a takeover', async () => {
    const schema = `t_${++n}`;
    const s = (await openStores({ driver: 'postgres', path: '/nonexistent', url: { kind: 'value', secret: new Secret(pg.url()) }, schema, pool: { max: 2 }, leaseTtlMs: 3_000, ssl: null })) as PostgresStores;
    open.push(s);
    const other = await store({ schema });
    expect((await s.sql`SHOW idle_in_transaction_session_timeout`)[0]).toEqual({ idle_in_transaction_session_timeout: '1500ms' });
    const f1 = (await s.acquireLease('support', 'r1', 1_000))!;
    // r1 locks the lease row the way every fenced write does, then stalls without finishing
    const stalled = s.sql
      .begin(async (tx) => {
        await tx`SELECT epoch FROM mailbox_leases WHERE mailbox = ${f1.mailbox} FOR SHARE`;
        await new Promise((r) => setTimeout(r, 4_000));
        await tx`SELECT 1`;
      })
      .then(() => 'committed', () => 'refused');
    await new Promise((r) => setTimeout(r, 1_100)); // r1's lease has run out
    const started = Date.now();
    const f2 = await other.acquireLease('support', 'r2', 60_000); // waits for r1's lock until PostgreSQL ends r1's session
    expect(f2?.epoch).toBe(2);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(await stalled).toBe('refused');
  });

  it('leases: acquire bumps the epoch, a live lease is not taken, the old holder is fenced; release keeps the epoch', async () => {
    const s = await store();
    const f1 = await s.acquireLease('support', 'r1', 60_000);
    expect(f1).toEqual({ mailbox: 'support', epoch: 1 });
    expect(await s.acquireLease('support', 'r2', 60_000)).toBeNull();
    expect(await s.renewLease(f1!, 'r1', 60_000)).toBe(true);
    await s.intake.commit(items(1, 1), f1!);
    await s.releaseLease(f1!, 'r1');
    const f2 = await s.acquireLease('support', 'r2', 60_000);
    expect(f2?.epoch).toBe(2);
    expect(await s.renewLease(f1!, 'r1', 60_000)).toBe(false);
    await expect(s.intake.commit(items(2, 1), f1!)).rejects.toMatchObject({ code: 'fenced' });
    await expect(s.sync.completeActions(['pa-1'], f1!)).rejects.toMatchObject({ code: 'fenced' });
    await expect(s.sync.pruneUidls('support', new Set(), f1!)).rejects.toMatchObject({ code: 'fenced' });
    await expect(s.intake.commit(items(2, 1), { mailbox: 'support', epoch: 0 })).rejects.toMatchObject({ code: 'fenced' });
    await s.intake.commit(items(2, 1), f2!);
    expect((await s.tickets.stats()).tickets).toBe(2);
  });

  it('openStores picks PostgreSQL for store.driver postgres (the URL from its secret source)', async () => {
    const s = await openStores({ driver: 'postgres', path: '/nonexistent', url: { kind: 'value', secret: new Secret(pg.url()) }, schema: `t_${++n}`, pool: { max: 2 }, leaseTtlMs: 15_000, ssl: null });
    open.push(s as PostgresStores);
    expect(s.driver).toBe('postgres');
    await s.intake.commit(items(1, 1), F);
    expect((await s.tickets.stats()).tickets).toBe(1);
  });

  it('never shows the URL password in an error', async () => {
    const bad = pg.url().replace(pg.password, 'wrong-secret-pw');
    const err = await openPostgresStores({ url: bad, schema: 'x' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).not.toContain('wrong-secret-pw');
    expect(String((err as Error).message)).toContain('postgres:***@127.0.0.1');
  });

  it('keeps mail text with U+0000 and keys of any spelling', async () => {
    const s = await store();
    const it1 = sampleItem({ uid: 1, messageId: '<nul\0id@x>' });
    it1.article.text = 'a\0b';
    const [r] = await s.intake.commit([it1], F);
    expect((await s.tickets.get(r!.ticketId))?.articles[0]?.text).toBe('a\0b');
    expect(await s.sync.knownKeys(['mid:acme:<nul\0id@x>'])).toEqual(new Set(['mid:acme:<nul\0id@x>']));
  });
  it('two replicas refresh a rotating OAuth grant of one mailbox at once: one at a time, the second presents the token the first stored (never one rotated away)', async () => {
    const peer = await startOAuthServer({ rotate: true });
    try {
      peer.addClient('app', 'client-secret-0123456789', {});
      const initial = peer.grant('app', 'alice');
      const a = await store();
      const b = await openPostgresStores({ url: pg.url(), schema: `t_${n}`, poolMax: 4 }); // the same store, another replica
      open.push(b);
      const auth: ResolvedAuth = {
        user: 'alice',
        password: null,
        oauth2: { flow: 'refresh_token', tenantId: null, clientId: 'app', clientSecret: { kind: 'value', secret: new Secret('client-secret-0123456789') }, refreshToken: { kind: 'value', secret: new Secret(initial) }, tokenUrl: peer.tokenUrl, scope: 'mail', clientSecretExpires: null },
      };
      const managers = [a, b].map((s) => new OAuthManager({ state: new OAuthStateStore(s.control), log: createLogger('silent') }));
      const tokens = await Promise.all(managers.map((m) => m.accessToken('desk', auth)));
      expect(tokens.every((t) => typeof t.token === 'string')).toBe(true);
      // without the lock both present `initial` and the second gets invalid_grant (rotation killed it)
      expect(peer.requests.map((r) => r.status)).toEqual([200, 200]);
      const [first, second] = peer.requests;
      expect(first!.refresh_token).toBe(initial);
      expect(second!.refresh_token).not.toBe(initial);
      // the one token still valid is the one the store keeps for the next refresh, by either replica
      const valid = peer.refreshTokens('alice');
      expect(valid).toHaveLength(1);
      expect(JSON.stringify((await b.control.oauthState('desk')).state)).toContain(valid[0]!);
      await Promise.all(managers.map((m) => m.stop()));
    } finally {
      await peer.close();
    }
  });
});
