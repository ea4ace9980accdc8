// Why this file exists: opens the PostgreSQL store (store.driver: postgres) and puts its parts behind
// the port: one pool, migrations applied at open (migrate.ts), and the lease API that hands out
// fences (leases.ts). Connection errors name the server with its password masked.
import type { ClusterPort, Stores } from '../port.js';
import { blobs } from './blobs.js';
import { DEFAULT_IDLE_IN_TRANSACTION_MS, DEFAULT_SCHEMA, redactUrl, type PostgresStoreConfig } from './config.js';
import { StoreError } from '../types.js';
import { connect, storeFailure, type Sql } from './connect.js';
import { PostgresControl } from './control.js';
import { PostgresDeliveries } from './deliveries.js';
import { PostgresIntake } from './intake.js';
import { cluster } from './cluster.js';
import { leases, type Leases } from './leases.js';
import { loadMigrations, migrate, type MigrateResult } from './migrate.js';
import { PostgresOutbox } from './outbox.js';
import { PostgresSync } from './sync.js';
import { PostgresTickets } from './tickets.js';

export interface PostgresStores extends Stores, Leases {
  readonly cluster: ClusterPort;
  readonly driver: 'postgres';
  readonly schema: string;
  /** What the open did to the schema (versions applied by this replica). */
  readonly migration: MigrateResult;
  readonly intake: PostgresIntake;
  /** The pool, for this store's own tests and tools. */
  readonly sql: Sql;
}

export async function openPostgresStores(config: PostgresStoreConfig): Promise<PostgresStores> {
  const { sql, schema } = connect(config);
  let migration: MigrateResult;
  try {
    migration = await migrate(sql, schema, await loadMigrations());
  } catch (e) {
    await sql.end({ timeout: 5 }).catch(() => undefined);
    throw storeFailure(e, config.url, `cannot open the store in schema "${config.schema ?? DEFAULT_SCHEMA}"`);
  }
  const b = blobs(sql);
  const control = new PostgresControl(sql, schema);
  // The lease round (heartbeat, acquire, renew, release) has a pool of its own whose statements wait
  // a sixth of the lease TTL at most for a row lock: neither the data path filling the main pool nor
  // a stopped replica's locks (a renewal waits on this replica's own commits, which may wait on a
  // stalled replica's ticket counter lock) can stall the round until the leases run out; a round
  // that could not finish is retried a third of the TTL later, after its heartbeat ended the stall.
  const ttlMs = 2 * (config.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_MS);
  const lease = connect({ ...config, poolMax: 2 }, { lockTimeoutMs: Math.max(100, Math.floor(ttlMs / 6)) }).sql;
  const l = leases(lease);
  const clusterPort = cluster(lease, l, { listen: sql, schema });
  let closed = false;
  return {
    driver: 'postgres',
    schema,
    migration,
    sql,
    intake: new PostgresIntake(sql, b),
    sync: new PostgresSync(sql),
    tickets: new PostgresTickets(sql, b),
    deliveries: new PostgresDeliveries(sql),
    outbox: new PostgresOutbox(sql),
    control,
    ...l,
    cluster: clusterPort,
    async ping(timeoutMs) {
      if (closed) throw new StoreError('closed', 'the store is closed');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StoreError('failed', `PostgreSQL ${redactUrl(config.url)} did not answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([sql`SELECT 1`, timeout]);
      } catch (e) {
        throw storeFailure(e, config.url, 'store unreachable');
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await control.close().catch(() => undefined);
      await clusterPort.close().catch(() => undefined);
      await Promise.all([sql.end({ timeout: 10 }), lease.end({ timeout: 10 })]);
    },
  };
}
