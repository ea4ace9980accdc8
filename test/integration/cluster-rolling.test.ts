// Issue 22: a rolling restart of all replicas during ingest loses and doubles nothing. Three replicas
// as real processes (the CLI's `run` from source) on one PostgreSQL and one Dovecot, lease TTL 3 s;
// mail keeps arriving while each replica in turn is replaced as a Kubernetes Deployment does it
// (RollingUpdate, maxSurge 1): a new pod with a new replica id joins, then the old one gets SIGTERM,
// gives its leases up and exits. Afterwards every message is a ticket exactly once, every INBOX is
// empty, Dovecot's log shows no mailbox with two sessions open at once, and no lease was ever taken
// over (every handover was a release). Peers start once for the file.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import type { Stores } from '../../src/store/port.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { freePort } from '../peers/free-port.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { MAILROOM, spawnScript, type ChildRun } from '../support/daemon-process.js';
import { mailSessions, overlapping } from '../support/dovecot-sessions.js';
import { duplicates, makeUsers } from '../support/inbound.js';

const TTL_MS = 3_000;
const USERS = ['roll1', 'roll2', 'roll3', 'roll4', 'roll5', 'roll6'];
const PROBE = 'roll-probe';
const DB = 'rolling';

let dovecot: Dovecot;
let pg: PostgresPeer;
const runs = new Set<ChildRun>();
let view: Stores | null = null;
beforeAll(async () => {
  [dovecot, pg] = await Promise.all([startDovecot({ users: makeUsers([...USERS, PROBE]) }), startPostgres()]);
}, 60_000);
afterEach(async () => {
  for (const r of runs) r.child.kill('SIGKILL');
  await Promise.all([...runs].map((r) => r.exited));
  runs.clear();
  await view?.close();
});
afterAll(async () => {
  await Promise.all([dovecot?.destroy(), pg?.destroy()]);
});

type Replica = ChildRun & { id: string; port: number };

/** The shared config (store.leaseTtl 3s, the URL in a file as a Secret mounts it); returns its directory and URL. */
async function clusterConfig(): Promise<{ dir: string; url: string }> {
  const url = await pg.createDatabase(DB);
  const cfg = await writeTestConfig(dovecot, USERS.map((u) => ({ id: `box-${u}`, user: u, protocol: 'imap' as const, inbound: { batchSize: 5, afterFetch: 'delete' } })));
  const doc = parse(await readFile(join(cfg.dir, 'mailroom.yaml'), 'utf8')) as Record<string, unknown>;
  const urlFile = join(await mkdtemp(join(tmpdir(), 'mailroom-pgurl-')), 'url');
  await writeFile(urlFile, url + '\n', { mode: 0o600 });
  doc.store = { driver: 'postgres', urlFile, schema: 'mailroom', leaseTtl: `${TTL_MS / 1000}s` };
  await writeFile(join(cfg.dir, 'mailroom.yaml'), stringify(doc));
  return { dir: cfg.dir, url };
}

/** A new pod: `mailroom run` with its own MAILROOM_REPLICA_ID (and its own listen port). */
async function replica(dir: string, id: string): Promise<Replica> {
  const port = await freePort();
  const own = await mkdtemp(join(tmpdir(), `mailroom-${id}-`));
  const doc = parse(await readFile(join(dir, 'mailroom.yaml'), 'utf8')) as Record<string, unknown>;
  doc.server = { listen: `127.0.0.1:${port}` };
  await writeFile(join(own, 'mailroom.yaml'), stringify(doc));
  const run = spawnScript(MAILROOM, ['run', '--no-watch', '--config', own], { ...process.env, MAILROOM_REPLICA_ID: id, MAILROOM_LOG_LEVEL: 'info' });
  runs.add(run);
  void run.exited.then(() => runs.delete(run));
  return { ...run, id, port };
}

/** Who holds each lease now (unexpired), the outbox's included. */
async function owners(): Promise<Map<string, string>> {
  const rows = await pg.query<{ mailbox: string; owner: string }>(`SELECT mailbox, owner FROM mailroom.mailbox_leases WHERE owner IS NOT NULL AND expires_at > now()`, [], DB).catch(() => []);
  return new Map(rows.map((r) => [r.mailbox, r.owner]));
}
const heldBy = (o: Map<string, string>, id: string) => [...o.values()].filter((owner) => owner === id).length;
const metric = async (r: Replica, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text())?.[1]);

it('a rolling restart of three replicas during ingest: nothing lost, nothing doubled, no mailbox polled twice at once', async () => {
  const t00 = Date.now();
  const { dir, url } = await clusterConfig();
  const live: Replica[] = [];
  for (const id of ['pod-a1', 'pod-a2', 'pod-a3']) live.push(await replica(dir, id));
  view = await openPostgresStores({ url, schema: 'mailroom' });
  const LEASES = USERS.length + 1; // and the outbox
  const spread = async () => {
    for (const r of live) if (r.child.exitCode !== null) throw new Error(`replica ${r.id} exited early:\n${r.output()}`);
    const o = await owners();
    return o.size === LEASES && live.every((r) => heldBy(o, r.id) > 0 && heldBy(o, r.id) <= Math.ceil(LEASES / live.length)) ? o : null;
  };
  await waitFor(spread, 60_000, 'three replicas holding every lease, each within ceil(7/3)');

  const startedMs = Date.now() - t00;
  // mail keeps arriving during the whole restart: a message per mailbox every 500 ms
  const subjects: string[] = [];
  let feeding = true;
  let n = 0;
  const feeder = (async () => {
    while (feeding) {
      const round = n++;
      await Promise.all(USERS.map((u) => dovecot.append(u, message(round, { subject: `${u}-${round}` }))));
      subjects.push(...USERS.map((u) => `${u}-${round}`));
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const tickets = async () => (await view!.tickets.stats()).tickets;
  await waitFor(async () => (await tickets()) > 0, 20_000, 'ingest running');

  // each old pod in turn: its successor joins (new id) and takes its share, then the old one gets SIGTERM
  const handovers: number[] = [];
  const joins: number[] = [];
  for (const [i, next] of ['pod-b1', 'pod-b2', 'pod-b3'].entries()) {
    const old = live[0]!;
    const tJoin = Date.now();
    const fresh = await replica(dir, next);
    live.push(fresh);
    await waitFor(async () => heldBy(await owners(), next) > 0 || (fresh.child.exitCode !== null && Promise.reject(new Error(fresh.output()))), 60_000, `${next} holding a mailbox`);
    joins.push(Date.now() - tJoin);
    const before = await tickets();
    const t0 = Date.now();
    old.child.kill('SIGTERM');
    const exit = await old.exited;
    expect(exit, `${old.id} exits cleanly on SIGTERM:\n${old.output().slice(-3000)}`).toEqual({ code: 0, signal: null });
    live.shift();
    // its leases were released: the others hold every one again within a lease round or two
    await waitFor(async () => ((await owners()).size === LEASES && ![...(await owners()).values()].includes(old.id) ? true : null), 3 * TTL_MS, `every lease held after ${old.id} left`);
    handovers.push(Date.now() - t0);
    expect(old.output(), old.id).not.toMatch(/"level":"(error|fatal)"/);
    expect(await tickets(), `ingest went on during step ${i + 1}`).toBeGreaterThanOrEqual(before);
  }
  feeding = false;
  await feeder;

  await waitFor(async () => (await tickets()) >= subjects.length, 30_000, `${subjects.length} tickets`);
  await new Promise((r) => setTimeout(r, 1_500)); // a doubled ticket would show by now
  const page = await view.tickets.list({ companies: '*', limit: 2000 });
  const got = page.items.map((t) => t.subject);
  expect(duplicates(got)).toEqual([]);
  expect(got.sort()).toEqual([...subjects].sort());
  for (const u of USERS) expect(await dovecot.list(u, 'INBOX'), u).toHaveLength(0);

  // Dovecot's own record: never two sessions of one mailbox open at once
  const sessions = (await mailSessions(dovecot)).filter((s) => USERS.includes(s.user));
  expect(sessions.length).toBeGreaterThanOrEqual(USERS.length * 2); // each mailbox changed hands at least once
  expect(overlapping(sessions)).toEqual([]);
  // every handover was a release: no lease was taken over from a holder that never let go
  for (const r of live) expect(await metric(r, 'mailroom_lease_takeovers_total'), r.id).toBe(0);
  for (const r of live) expect(r.output(), r.id).not.toMatch(/"level":"(error|fatal)"/);
  console.log(`rolling restart: ${subjects.length} messages in ${USERS.length} mailboxes, 3 replicas replaced one by one; replicas up in ${startedMs} ms, each successor holding mailboxes ${joins.join(', ')} ms after its spawn, every lease held again ${handovers.join(', ')} ms after each SIGTERM (TTL ${TTL_MS} ms); ${sessions.length} IMAP sessions, none overlapping; ${Date.now() - t00} ms in all`);
}, 180_000);

it('the session check sees two sessions of one mailbox open at once (and not two in a row)', async () => {
  const user = dovecot.users.find((u) => u.user === PROBE)!;
  const connect = async () => {
    const c = new ImapFlow({ host: dovecot.host, port: dovecot.ports.imap, secure: false, doSTARTTLS: false, auth: { user: user.user, pass: user.password }, logger: false });
    await c.connect();
    return c;
  };
  const first = await connect();
  await first.logout(); // then a second, after the first ended: in a row
  const a = await connect();
  const b = await connect(); // while a is open: at once
  await a.logout();
  await b.logout();
  const probe = async () => (await mailSessions(dovecot)).filter((s) => s.user === PROBE);
  const sessions = await waitFor(async () => ((await probe()).filter((s) => s.to !== null).length === 3 ? probe() : null), 5_000, 'three ended sessions in the log');
  expect(overlapping(sessions).map(([x, y]) => [x.session, y.session])).toEqual([[sessions[1]!.session, sessions[2]!.session]]);
});
