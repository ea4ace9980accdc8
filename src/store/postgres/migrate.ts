// Why this file exists: the PostgreSQL store's schema is versioned SQL in ./migrations (NNN_name.sql,
// copied beside the compiled code by `npm run build`). At open, every replica applies the missing
// ones in ONE transaction under a transaction-level advisory lock keyed by the schema name: replicas
// starting together queue on the lock and the later ones find nothing left to do. A schema newer
// than this build knows is refused (an older replica must not write into tables it does not know).
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { StoreError } from '../types.js';
import type { Sql } from './connect.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

const FILE_RE = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (e) {
    throw new StoreError('failed', `PostgreSQL migrations not found in ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'}): was the build's copy step skipped?`);
  }
  const out: Migration[] = [];
  for (const f of files.sort()) {
    const m = FILE_RE.exec(f);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2]!, sql: await readFile(path.join(dir, f), 'utf8') });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new StoreError('failed', `PostgreSQL migrations must be numbered 1, 2, 3 ... without gaps; found ${m.version} at position ${i + 1}`);
  });
  return out;
}

export interface MigrateResult {
  /** versions applied by this call (empty: another replica did, or nothing was missing) */
  applied: number[];
  version: number;
}

/** Bring `schema` up to the newest migration; refuse a schema newer than `migrations` know. */
export async function migrate(sql: Sql, schema: string, migrations: Migration[]): Promise<MigrateResult> {
  const known = migrations.at(-1)?.version ?? 0;
  return sql.begin(async (tx) => {
    // 64-bit key from the schema name: two replicas on one schema serialize here, other schemas don't.
    await tx`SELECT pg_advisory_xact_lock(7256734, hashtext(${schema}))`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await tx.unsafe(`SET LOCAL search_path TO ${schema}`);
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`;
    const have = new Set(rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...have);
    if (newest > known) {
      throw new StoreError(
        'failed',
        `PostgreSQL store schema "${schema}" is at version ${newest}, newer than this mailroom knows (${known}): a newer mailroom migrated it; run that version (or newer) here too`,
      );
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (have.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push(m.version);
    }
    return { applied, version: Math.max(newest, known) };
  }) as Promise<MigrateResult>;
}
