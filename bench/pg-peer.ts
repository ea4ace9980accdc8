// The benchmarks' PostgreSQL: the tests' private server (test/peers/postgres.ts: initdb + pg_ctl in a
// temp dir, fsync off) restarted once with pg_stat_statements loaded, so that the statements a phase
// sent are counted by PostgreSQL itself, per database (each phase gets a fresh one), at no cost to the
// client: postgres.js's `debug` hook would do it too, but it builds an Error (a stack trace) per query
// and cost mailroom ~5% CPU in the outbound phase. Plus the server's CPU (bench/proc-cpu.mjs).
import path from 'node:path';
import { startPostgres, type PostgresPeer } from '../test/peers/postgres.js';
import { postmasterPid } from './proc-cpu.mjs';

export interface BenchPostgres {
  peer: PostgresPeer;
  /** the postmaster's pid (for serverCpuMs) */
  pid: number;
  /**
   * Statements executed in database `db` (pg_stat_statements calls), by kind. pg_stat_statements (15)
   * saw only a few of the COMMITs that ended the BEGINs it counted, so every BEGIN is taken to have
   * its COMMIT: total = counted statements - COMMITs counted + BEGINs (one round trip each).
   */
  statements(db: string): Promise<{ total: number; byKind: [string, number][]; byTime: { query: string; calls: number; ms: number }[] }>;
  destroy(): Promise<void>;
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const peer = await startPostgres();
  try {
    await peer.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
    // (its defaults: track_utility on, so BEGIN, COMMIT, LISTEN count too; 5000 distinct statements
    // kept, far more than a phase sends)
    await peer.stop();
    await peer.start();
    await peer.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  } catch (e) {
    await peer.destroy();
    throw new Error(`PostgreSQL without pg_stat_statements (Debian's postgresql package has it): ${(e as Error).message}`);
  }
  const pid = postmasterPid(path.join(peer.dir, 'data'));
  return {
    peer,
    pid,
    async statements(db) {
      const rows = await peer.query<{ query: string; calls: string; total_exec_time: number }>(
        `SELECT query, calls, total_exec_time FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`,
        [db],
      );
      const byKind = new Map<string, number>();
      let total = 0;
      for (const r of rows) {
        const n = Number(r.calls);
        total += n;
        const t = r.query.replace(/\s+/g, ' ').trim();
        const m = /^(with|insert into|update|delete from|select|begin|commit|rollback|set|listen|notify|create|alter)\b\s*([a-z_."]*)/i.exec(t);
        const kind = m ? `${m[1]!.toUpperCase()}${/^(insert into|update|delete from)$/i.test(m[1]!) ? ' ' + m[2] : ''}` : t.slice(0, 24);
        byKind.set(kind, (byKind.get(kind) ?? 0) + n);
      }
      const begins = byKind.get('BEGIN') ?? 0;
      total += begins - (byKind.get('COMMIT') ?? 0);
      byKind.set('COMMIT', begins);
      // where the server's time went: execution time per statement (planning and protocol not included)
      const byTime = rows
        .map((r) => ({ query: r.query.replace(/\s+/g, ' ').trim().slice(0, 90), calls: Number(r.calls), ms: Number(r.total_exec_time) }))
        .sort((a, b) => b.ms - a.ms);
      return { total, byKind: [...byKind.entries()].sort((a, b) => b[1] - a[1]), byTime };
    },
    destroy: () => peer.destroy(),
  };
}
