// Why this file exists: the one place that turns `store:` in the config into a store behind the port.
// The embedded store (driver lowdb) is the default; PostgreSQL (driver postgres) is the store for
// several replicas. The URL's password is read here (from `${ENV}` or its file) and never shown.
import { readFile } from 'node:fs/promises';
import type { Snapshot } from '../config/snapshot.js';
import { readSecret } from '../config/secret.js';
import { openEmbeddedStores, type EmbeddedOptions } from './embedded/stores.js';
import type { PostgresStoreConfig } from './postgres/config.js';
import { openPostgresStores } from './postgres/stores.js';
import type { Stores } from './port.js';

export interface OpenStoresOptions {
  embedded?: EmbeddedOptions;
  postgres?: Pick<PostgresStoreConfig, 'applicationName' | 'onStatement'>;
}

/** The PostgreSQL store's connection settings from `store:` (the URL read from its secret source). */
export async function postgresConfig(config: Extract<Snapshot['store'], { driver: 'postgres' }>): Promise<PostgresStoreConfig> {
  const url = (await readSecret(config.url)).reveal().trim();
  let ca: string | undefined;
  if (config.ssl?.caFile) {
    try {
      ca = await readFile(config.ssl.caFile, 'utf8');
    } catch (e) {
      throw new Error(`cannot read store.ssl.caFile ${config.ssl.caFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return {
    url,
    schema: config.schema,
    poolMax: config.pool.max,
    // a paused replica's transaction ends well before its leases run out, so its locks never hold up the takeover
    idleInTransactionTimeoutMs: Math.floor(config.leaseTtlMs / 2),
    ssl: config.ssl ? { ...(ca !== undefined && { ca }), rejectUnauthorized: config.ssl.rejectUnauthorized } : null,
  };
}

export async function openStores(config: Snapshot['store'], opts: OpenStoresOptions = {}): Promise<Stores> {
  switch (config.driver) {
    case 'lowdb':
      return openEmbeddedStores(config.path, opts.embedded);
    case 'postgres':
      return openPostgresStores({ ...opts.postgres, ...(await postgresConfig(config)) });
    default:
      throw new Error(`store.driver ${JSON.stringify((config as { driver: unknown }).driver)} is not supported`);
  }
}
