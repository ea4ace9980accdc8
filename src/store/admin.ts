// Why this file exists: the store's administrative operations for `mailroom store migrate|import`
// (the CLI parses and prints; this opens stores and moves data): migrate a PostgreSQL schema without
// starting the daemon, and import an embedded store into PostgreSQL.
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedStore } from '../config/snapshot.js';
import { embeddedContents } from './embedded/contents.js';
import { openEmbeddedStores } from './embedded/stores.js';
import { postgresConfig } from './open.js';
import { DEFAULT_SCHEMA, redactUrl, type PostgresStoreConfig } from './postgres/config.js';
import { storeFailure } from './postgres/connect.js';
import { IMPORT_KINDS, importEmbedded, type ImportReport } from './postgres/import.js';
import { openPostgresStores } from './postgres/stores.js';
import { StoreError } from './types.js';

export { IMPORT_KINDS, type ImportReport };

/** A failure the CLI prints as it is (`error: <message>`). */
export class AdminError extends Error {}

export async function postgresTarget(store: ResolvedStore & { driver: 'postgres' }): Promise<{ pg: PostgresStoreConfig; where: string }> {
  let pg: PostgresStoreConfig;
  try {
    pg = await postgresConfig(store);
  } catch (e) {
    throw new AdminError((e as Error).message);
  }
  return { pg, where: `PostgreSQL ${redactUrl(pg.url)}, schema ${pg.schema ?? DEFAULT_SCHEMA}` };
}

export async function migrateStore(pg: PostgresStoreConfig): Promise<{ applied: number[]; version: number }> {
  let stores;
  try {
    stores = await openPostgresStores({ ...pg, poolMax: 1, applicationName: 'mailroom store migrate' });
  } catch (e) {
    throw new AdminError((e as Error).message);
  }
  await stores.close().catch(() => undefined);
  return { applied: stores.migration.applied, version: stores.migration.version };
}

export async function importStore(fromPath: string, pg: PostgresStoreConfig, where: string): Promise<{ from: string; report: ImportReport }> {
  const from = path.resolve(fromPath);
  // openEmbeddedStores creates a store where there is none: a mistyped path must not import nothing.
  const isStore = await Promise.any(['meta.json', 'segments'].map((f) => access(path.join(from, f)))).then(() => true, () => false);
  if (!isStore) throw new AdminError(`no embedded store at ${from} (no meta.json or segments/ in it): --from names the store.path of the embedded store`);
  let embedded;
  try {
    embedded = await openEmbeddedStores(from);
  } catch (e) {
    if (e instanceof StoreError && e.code === 'locked') throw new AdminError(`the embedded store at ${from} is in use (${e.message}); stop the daemon that runs on it, then import`);
    throw new AdminError(`cannot open the embedded store at ${from}: ${(e as Error).message}`);
  }
  let pgStores;
  try {
    pgStores = await openPostgresStores({ ...pg, applicationName: 'mailroom store import' });
    return { from, report: await importEmbedded(embeddedContents(embedded), pgStores.sql) };
  } catch (e) {
    throw new AdminError(`import into ${where} failed: ${storeFailure(e, pg.url, 'import').message}; what was imported stays, run the import again to finish it`);
  } finally {
    await pgStores?.close().catch(() => undefined);
    await embedded.close().catch(() => undefined);
  }
}
