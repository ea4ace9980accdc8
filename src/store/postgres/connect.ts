// Why this file exists: one place that turns the store config into a connection pool (postgres.js):
// pool size, search_path set to the store's schema on every connection, a bound on idle-in-transaction
// (a paused replica's locks must not stall the others), TLS, and errors that never
// carry the URL's password.
// postgres 4.x, not 3.4.x: 3.4.9 and 3.4.10 crash the whole process when a connection drops under
// a transaction (sql.begin writes its ROLLBACK to a null socket from a setImmediate: an uncaught
// TypeError, porsager/postgres #1154 / #1208), so a PostgreSQL restart or a SIGCONTed replica died;
// test/integration/postgres-dropped-connections.test.ts holds that.
import postgres from 'postgres';
import { StoreError } from '../types.js';
import { DEFAULT_IDLE_IN_TRANSACTION_MS, DEFAULT_POOL_MAX, DEFAULT_SCHEMA, checkSchemaName, redactUrl, scrubSecret, type PostgresStoreConfig } from './config.js';

export type Sql = postgres.Sql<Record<string, never>>;
export type Tx = postgres.TransactionSql<Record<string, never>>;
/** A pool or a transaction: the functions that run one statement take either. */
export type Q = Sql | Tx;

/** lockTimeoutMs: lock_timeout of every connection (the lease pool's: its statements never wait long on a row lock). */
export function connect(config: PostgresStoreConfig, o: { lockTimeoutMs?: number } = {}): { sql: Sql; schema: string } {
  const schema = checkSchemaName(config.schema ?? DEFAULT_SCHEMA);
  let ssl: postgres.Options<Record<string, never>>['ssl'];
  if (config.ssl && (config.ssl.ca !== undefined || config.ssl.rejectUnauthorized !== undefined)) {
    ssl = { ...(config.ssl.ca !== undefined && { ca: config.ssl.ca }), rejectUnauthorized: config.ssl.rejectUnauthorized ?? true };
  }
  try {
    const sql = postgres(config.url, {
      max: config.poolMax ?? DEFAULT_POOL_MAX,
      idle_timeout: 60,
      connect_timeout: 10,
      // Reconnect attempts after a failure: the driver's default grows to 10–20 s between attempts
      // within a 20 s outage, so a replica stayed not-ready ~17 s after PostgreSQL was back. At most
      // 1–2 s apart (a pool of a few connections per replica) it is ready again within seconds.
      backoff: reconnectBackoffSeconds,
      onnotice: () => undefined,
      ...(ssl !== undefined && { ssl }),
      ...(config.onStatement && { debug: (_conn: number, query: string) => config.onStatement!(query) }),
      // Every statement planned for its values (postgres.js prepares them): a generic plan chosen
      // while a table was small (a new store) scanned the whole table for each key lookup until
      // autovacuum's first ANALYZE, a minute or more later (bench:ingest: 11 ms per lookup at 10,000
      // keys; the intake's server CPU 0.73 → 0.57 ms/msg). Planning these statements costs less.
      // random_page_cost 1.1 (the usual setting for SSDs and a cached working set; the default 4 is
      // for spinning disks): a batch's rows come as one recordset, which the planner takes for 100
      // rows, and at 4 it found a hash join over a whole table (message_ids, tickets, outbox) cheaper
      // than 100 index probes up to ~20,000 rows: every batch scanned them (1.2 ms at 10,000 rows,
      // 0.05 ms by index), so a growing store cost more per message until then.
      connection: { random_page_cost: 1.1, plan_cache_mode: 'force_custom_plan', search_path: schema, application_name: config.applicationName ?? 'mailroom', idle_in_transaction_session_timeout: config.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_MS, ...(o.lockTimeoutMs !== undefined && { lock_timeout: o.lockTimeoutMs }) },
    }) as unknown as Sql;
    return { sql, schema };
  } catch (e) {
    throw new StoreError('failed', `cannot use PostgreSQL URL ${redactUrl(config.url)}: ${scrubSecret((e as Error).message, config.url)}`);
  }
}

/** Seconds before reconnect attempt `retries` (1, 2, ...): 0.1, 0.2, 0.4 ... capped at 2, with jitter (×0.5–1) so a fleet does not reconnect in step. */
export function reconnectBackoffSeconds(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.1 * 2 ** Math.max(0, retries - 1), 2);
}

/** A driver or server error as a StoreError whose message names the server without its password. */
export function storeFailure(e: unknown, url: string, what: string): StoreError {
  if (e instanceof StoreError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new StoreError('failed', `${what} (PostgreSQL ${redactUrl(url)}): ${scrubSecret(msg, url)}`);
}
