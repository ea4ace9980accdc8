// `mailroom store migrate | import`: how a user moves from the embedded store to PostgreSQL.
// `migrate` applies the PostgreSQL store's migrations without starting the daemon (the same runner
// and advisory lock as a replica's start). `import --from <embedded store path>` moves an embedded
// store into the configured PostgreSQL store (src/store/postgres/import.ts) and prints what it moved;
// it holds the embedded store's LOCK while reading, so it refuses a store a daemon is running on.
import { access } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import { embeddedContents } from '../store/embedded/contents.js';
import { openEmbeddedStores } from '../store/embedded/stores.js';
import { postgresConfig } from '../store/open.js';
import { DEFAULT_SCHEMA, redactUrl, type PostgresStoreConfig } from '../store/postgres/config.js';
import { storeFailure } from '../store/postgres/connect.js';
import { IMPORT_KINDS, importEmbedded, type ImportReport } from '../store/postgres/import.js';
import { openPostgresStores } from '../store/postgres/stores.js';
import { StoreError } from '../store/types.js';
import { UsageError } from './usage.js';

export interface StoreCommandOptions {
  sub: string | undefined;
  config: string;
  from?: string;
  format: 'text' | 'json';
}

export async function storeCommand(opts: StoreCommandOptions, out: (s: string) => void): Promise<number> {
  if (opts.sub !== 'migrate' && opts.sub !== 'import') throw new UsageError('store takes a subcommand: migrate | import');
  if (opts.sub === 'import' && !opts.from) throw new UsageError('store import needs --from <embedded store path>');
  if (opts.sub === 'migrate' && opts.from) throw new UsageError('store migrate takes no --from');
  const r = await loadConfig(opts.config);
  if (!r.snapshot) {
    for (const p of r.problems) out(formatProblem(p));
    return 1;
  }
  const store = r.snapshot.store;
  if (store.driver !== 'postgres') {
    out(
      `error: store ${opts.sub} needs a config whose store.driver is postgres; ${opts.config} has store.driver ${store.driver}` +
        (opts.sub === 'import' ? ' (point --config at the PostgreSQL config the daemon will run with; --from names the embedded store)' : ' (the embedded store needs no migrations)'),
    );
    return 1;
  }
  let pg: PostgresStoreConfig;
  try {
    pg = await postgresConfig(store);
  } catch (e) {
    out(`error: ${(e as Error).message}`);
    return 1;
  }
  const where = `PostgreSQL ${redactUrl(pg.url)}, schema ${pg.schema ?? DEFAULT_SCHEMA}`;
  return opts.sub === 'migrate' ? migrate(pg, where, opts, out) : importStore(pg, where, opts as StoreCommandOptions & { from: string }, out);
}

async function migrate(pg: PostgresStoreConfig, where: string, opts: StoreCommandOptions, out: (s: string) => void): Promise<number> {
  let stores;
  try {
    stores = await openPostgresStores({ ...pg, poolMax: 1, applicationName: 'mailroom store migrate' });
  } catch (e) {
    out(`error: ${(e as Error).message}`);
    return 1;
  }
  await stores.close().catch(() => undefined);
  const { applied, version } = stores.migration;
  if (opts.format === 'json') out(JSON.stringify({ applied, version }));
  else if (applied.length) out(`${where}: applied migration${applied.length > 1 ? 's' : ''} ${applied.join(', ')}; the schema is at version ${version}`);
  else out(`${where}: up to date at version ${version}, nothing to apply`);
  return 0;
}

async function importStore(
  pg: PostgresStoreConfig,
  where: string,
  opts: StoreCommandOptions & { from: string },
  out: (s: string) => void,
): Promise<number> {
  const from = path.resolve(opts.from);
  // openEmbeddedStores creates a store where there is none: a mistyped path must not import nothing.
  const isStore = await Promise.any(['meta.json', 'segments'].map((f) => access(path.join(from, f)))).then(() => true, () => false);
  if (!isStore) {
    out(`error: no embedded store at ${from} (no meta.json or segments/ in it): --from names the store.path of the embedded store`);
    return 1;
  }
  let embedded;
  try {
    embedded = await openEmbeddedStores(from);
  } catch (e) {
    if (e instanceof StoreError && e.code === 'locked') {
      out(`error: the embedded store at ${from} is in use (${e.message}); stop the daemon that runs on it, then import`);
    } else out(`error: cannot open the embedded store at ${from}: ${(e as Error).message}`);
    return 1;
  }
  let report: ImportReport;
  let pgStores;
  try {
    pgStores = await openPostgresStores({ ...pg, applicationName: 'mailroom store import' });
    report = await importEmbedded(embeddedContents(embedded), pgStores.sql);
  } catch (e) {
    out(`error: import into ${where} failed: ${storeFailure(e, pg.url, 'import').message}; what was imported stays, run the import again to finish it`);
    return 1;
  } finally {
    await pgStores?.close().catch(() => undefined);
    await embedded.close().catch(() => undefined);
  }
  if (opts.format === 'json') {
    out(JSON.stringify({ from, ...report }));
    return 0;
  }
  out(`imported ${from} into ${where}`);
  out(formatCounts(report));
  const fp = { moved: 'moved (suspensions compare as before)', same: 'already there', different: 'PostgreSQL has another one (kept)' }[report.fingerprintKey];
  out(`fingerprint key: ${fp}`);
  const counters = Object.entries(report.ticketCounters);
  if (counters.length) out(`ticket ids continue after: ${counters.map(([p, n]) => `${p}-${String(n).padStart(6, '0')}`).join(', ')}`);
  for (const w of report.warnings) out(`warning: ${w}`);
  return 0;
}

/** The counts as a table: kind, moved, already there. */
export function formatCounts(report: ImportReport): string {
  const rows: [string, string, string][] = [['kind', 'moved', 'already there'], ...IMPORT_KINDS.map((k): [string, string, string] => [k, String(report.counts[k].moved), String(report.counts[k].already)])];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c.padStart(13)}`).join('\n');
}
