// Why this exists: the PostgreSQL store (store.driver: postgres) is tested against a REAL PostgreSQL,
// like the pollers against a real Dovecot. This starts a private server per test file from the
// Debian package's binaries: `initdb` into a fresh temp dir and `pg_ctl` as an unprivileged user
// (PostgreSQL refuses to run as root: as root the `postgres` system user, through runuser), on a
// free loopback port with its unix socket in the temp dir, password auth over TCP. Torn down by
// destroy(). Tests isolate themselves with a schema (store.schema) or a database each.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { freePort } from './free-port.js';

const execFileP = promisify(execFile);

export interface PostgresPeer {
  host: string;
  port: number;
  /** The superuser's password (user `postgres`). */
  password: string;
  dir: string;
  logFile: string;
  /** postgres://postgres:<password>@127.0.0.1:<port>/<db> */
  url(db?: string): string;
  /** CREATE DATABASE (a fresh, empty one) and return its URL. */
  createDatabase(name: string): Promise<string>;
  /** Run SQL as the superuser on `db` (default postgres). */
  query<T extends Record<string, unknown>>(text: string, params?: unknown[], db?: string): Promise<T[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function executable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory holding initdb and pg_ctl: PATH first, then /usr/lib/postgresql/<newest>/bin. */
export async function findPostgresBin(): Promise<string> {
  if (process.env.MAILROOM_TEST_PGBIN) return process.env.MAILROOM_TEST_PGBIN;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && (await executable(path.join(dir, 'initdb'))) && (await executable(path.join(dir, 'pg_ctl')))) return dir;
  }
  const base = '/usr/lib/postgresql';
  const versions = await readdir(base).catch(() => [] as string[]);
  for (const v of versions.filter((x) => /^\d+$/.test(x)).sort((a, b) => Number(b) - Number(a))) {
    const dir = path.join(base, v, 'bin');
    if ((await executable(path.join(dir, 'initdb'))) && (await executable(path.join(dir, 'pg_ctl')))) return dir;
  }
  throw new Error('PostgreSQL not found: install the Debian package `postgresql` (initdb, pg_ctl) or set MAILROOM_TEST_PGBIN');
}

async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const u = await execFileP('id', ['-u', name]);
  const g = await execFileP('id', ['-g', name]);
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export async function startPostgres(): Promise<PostgresPeer> {
  const bin = await findPostgresBin();
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const dir = await mkdtemp(path.join(tmpdir(), 'mailroom-pg-'));
  const data = path.join(dir, 'data');
  const sockets = path.join(dir, 'sock');
  const logFile = path.join(dir, 'postgres.log');
  const pwFile = path.join(dir, 'pw');
  const password = randomBytes(12).toString('hex');
  await mkdir(sockets);
  await writeFile(pwFile, password + '\n', { mode: 0o600 });
  if (root) {
    const pg = await systemUser('postgres');
    for (const p of [dir, sockets, pwFile]) await chown(p, pg.uid, pg.gid);
  }
  // As root: the `postgres` system user (PostgreSQL refuses root); otherwise the current user.
  const run = (cmd: string, args: string[]) => (root ? execFileP('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]) : execFileP(path.join(bin, cmd), args));
  await run('initdb', ['-D', data, '-U', 'postgres', '--pwfile', pwFile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync']);
  await rm(pwFile, { force: true });
  const port = await freePort();
  const opts = `-p ${port} -k ${sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
  const start = async () => {
    await run('pg_ctl', ['start', '-D', data, '-l', logFile, '-w', '-t', '60', '-o', opts]);
  };
  const stop = async () => {
    await run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60']).catch(() => undefined);
  };
  try {
    await start();
  } catch (e) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(e as Error).message}\n${log.slice(-2000)}`);
  }
  const url = (db = 'postgres') => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`;
  const query = async <T extends Record<string, unknown>>(text: string, params: unknown[] = [], db?: string): Promise<T[]> => {
    const sql = postgres(url(db), { max: 1, onnotice: () => undefined });
    try {
      return (await sql.unsafe(text, params as never[])) as unknown as T[];
    } finally {
      await sql.end({ timeout: 5 });
    }
  };
  return {
    host: '127.0.0.1',
    port,
    password,
    dir,
    logFile,
    url,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      await query(`CREATE DATABASE ${name}`);
      return url(name);
    },
    query,
    stop,
    start,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
