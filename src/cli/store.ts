// `mailroom store migrate | import`: how a user moves from the embedded store to PostgreSQL.
// `migrate` applies the PostgreSQL store's migrations without starting the daemon (the same runner
// and advisory lock as a replica's start). `import --from <embedded store path>` moves an embedded
// store into the configured PostgreSQL store (src/store/postgres/import.ts) and prints what it moved;
// it holds the embedded store's LOCK while reading, so it refuses a store a daemon is running on.
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import { AdminError, IMPORT_KINDS, importStore, migrateStore, postgresTarget, type ImportReport } from '../store/admin.js';
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
  try {
    const { pg, where } = await postgresTarget(store);
    if (opts.sub === 'migrate') {
      const { applied, version } = await migrateStore(pg);
      if (opts.format === 'json') out(JSON.stringify({ applied, version }));
      else if (applied.length) out(`${where}: applied migration${applied.length > 1 ? 's' : ''} ${applied.join(', ')}; the schema is at version ${version}`);
      else out(`${where}: up to date at version ${version}, nothing to apply`);
      return 0;
    }
    const { from, report } = await importStore(opts.from!, pg, where);
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
  } catch (e) {
    if (e instanceof AdminError) {
      out(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/** The counts as a table: kind, moved, already there. */
export function formatCounts(report: ImportReport): string {
  const rows: [string, string, string][] = [['kind', 'moved', 'already there'], ...IMPORT_KINDS.map((k): [string, string, string] => [k, String(report.counts[k].moved), String(report.counts[k].already)])];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c.padStart(13)}`).join('\n');
}
