// Replicas as real processes (the CLI's `run` from source, test/support/crash-child.ts) on one
// PostgreSQL store and one Dovecot, for the cluster tests: a config per database with a short lease
// TTL, a replica per process with its own listen port, and what the tests read back (lease owners
// from PostgreSQL, a replica's /v1/status and /metrics, exactly-once checks).
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { expect } from 'vitest';
import type { Stores } from '../../src/store/port.js';
import { startDovecot, type Dovecot, type StartDovecotOptions } from '../peers/dovecot.js';
import { freePort } from '../peers/free-port.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { writeTestConfig } from './daemon-config.js';
import { MAILROOM, spawnScript, type ChildRun } from './daemon-process.js';
import { duplicates, makeUsers } from './inbound.js';

/** A cluster test file's peers, started once for the file: one Dovecot with `users`, one PostgreSQL. */
export function startClusterPeers(users: string[], dovecot: Omit<StartDovecotOptions, 'users'> = {}): Promise<[Dovecot, PostgresPeer]> {
  return Promise.all([startDovecot({ users: makeUsers(users), ...dovecot }), startPostgres()]);
}

/** After a test: every replica process gone (a SIGSTOPped one continued first, so it can die) and every store view closed. */
export async function endReplicas(runs: Iterable<ChildRun>, views: Stores[] = []): Promise<void> {
  const all = [...runs];
  for (const r of all) {
    r.child.kill('SIGCONT');
    r.child.kill('SIGKILL');
  }
  await Promise.all(all.map((r) => r.exited));
  await Promise.all(views.splice(0).map((v) => v.close()));
}

/** The admin API token every replica of these configs accepts. */
export const ADMIN_TOKEN = 'replicas-test-admin-token-0123456789';

export interface ClusterConfig {
  dir: string;
  url: string;
  db: string;
}

/** A config for `users` (mailbox `box-<user>`) on a fresh database `db`, the lease TTL `ttlMs`. */
export async function clusterConfig(pg: PostgresPeer, dovecot: Dovecot, db: string, users: string[], inbound: Record<string, unknown>, ttlMs: number): Promise<ClusterConfig> {
  const url = await pg.createDatabase(db);
  const cfg = await writeTestConfig(dovecot, users.map((u) => ({ id: `box-${u}`, user: u, protocol: 'imap' as const, inbound: { batchSize: 5, ...inbound } })));
  const doc = parse(await readFile(join(cfg.dir, 'mailroom.yaml'), 'utf8')) as Record<string, unknown>;
  // the URL in a file, as a Kubernetes Secret would mount it
  const urlFile = join(await mkdtemp(join(tmpdir(), 'mailroom-pgurl-')), 'url');
  await writeFile(urlFile, url + '\n', { mode: 0o600 });
  doc.store = { driver: 'postgres', urlFile, schema: 'mailroom', leaseTtl: `${ttlMs / 1000}s` };
  await writeFile(join(cfg.dir, 'mailroom.yaml'), stringify(doc));
  return { dir: cfg.dir, url, db };
}

export type Replica = ChildRun & { id: string; port: number };

/** One replica: `mailroom run --config <own copy>` as a child process with MAILROOM_REPLICA_ID. */
export async function spawnReplica(dir: string, id: string, env: NodeJS.ProcessEnv = {}): Promise<Replica> {
  const port = await freePort();
  // server.listen from the environment would need a config per replica: each gets its own copy
  const own = await mkdtemp(join(tmpdir(), `mailroom-${id}-`));
  const doc = parse(await readFile(join(dir, 'mailroom.yaml'), 'utf8')) as Record<string, unknown>;
  doc.server = { listen: `127.0.0.1:${port}`, apiTokens: [{ name: 'ops', token: ADMIN_TOKEN, companies: ['*'] }] };
  await writeFile(join(own, 'mailroom.yaml'), stringify(doc));
  const run = spawnScript(MAILROOM, ['run', '--no-watch', '--config', own], { ...process.env, MAILROOM_REPLICA_ID: id, MAILROOM_LOG_LEVEL: 'info', ...env });
  return { ...run, id, port };
}

/** Who holds each mailbox's lease now (unexpired), straight from PostgreSQL. */
export async function owners(pg: PostgresPeer, db: string): Promise<Map<string, string>> {
  const rows = await pg.query<{ mailbox: string; owner: string }>(`SELECT mailbox, owner FROM mailroom.mailbox_leases WHERE owner IS NOT NULL AND expires_at > now() AND mailbox NOT LIKE '@%'`, [], db);
  return new Map(rows.map((r) => [r.mailbox, r.owner]));
}
export const heldBy = (o: Map<string, string>, id: string) => [...o].filter(([, owner]) => owner === id).map(([m]) => m);
export const userOf = (box: string) => box.replace('box-', '');

/** GET a replica's endpoint; { status, text }. */
export async function get(r: Replica, path: string, token = ADMIN_TOKEN): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${r.port}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
  return { status: res.status, text: await res.text() };
}

/** The sum of a counter's series in a replica's /metrics. */
export async function metricSum(r: Replica, name: string): Promise<number> {
  const { text } = await get(r, '/metrics');
  return text
    .split('\n')
    .filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Is the process stopped (SIGSTOP): state T in /proc/<pid>/stat. */
export async function isStopped(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return /\) T /.test(stat);
}

/** Every subject exactly once among the store's tickets. */
export async function expectExactlyOnce(view: Stores, subjects: string[]): Promise<void> {
  const page = await view.tickets.list({ companies: '*', limit: 1000 });
  const got = page.items.map((t) => t.subject);
  expect(duplicates(got)).toEqual([]);
  expect(got.sort()).toEqual([...subjects].sort());
}
