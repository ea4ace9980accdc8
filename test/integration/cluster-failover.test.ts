// Replicas as real processes (the CLI's `run` from source, test/support/crash-child.ts) on one
// PostgreSQL store and one Dovecot, the lease TTL from the config (store.leaseTtl: 3s):
// SIGKILL one mid-ingest: the survivor takes every mailbox over within 3×TTL and ingests the rest,
// 0 lost, 0 doubled, every INBOX empty. Peers start once for the file; each test has its own database.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import type { Stores } from '../../src/store/port.js';
import type { Dovecot } from '../peers/dovecot.js';
import type { PostgresPeer } from '../peers/postgres.js';
import { message, waitFor } from '../support/daemon-config.js';
import type { ChildRun } from '../support/daemon-process.js';
import { clusterConfig as configFor, expectExactlyOnce, heldBy, owners as ownersOf, spawnReplica, userOf, endReplicas, startClusterPeers } from '../support/replicas.js';

const TTL_MS = 3_000;
const KILL_USERS = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
const BODY = ('x'.repeat(76) + '\r\n').repeat(60); // ~4.7 KB: ingest takes long enough to be caught in the middle

let dovecot: Dovecot;
let pg: PostgresPeer;
const runs = new Set<ChildRun>();
const views: Stores[] = [];
beforeAll(async () => {
  [dovecot, pg] = await startClusterPeers(KILL_USERS);
}, 60_000);
afterEach(async () => {
  await endReplicas(runs, views);
  runs.clear();
});
afterAll(async () => {
  await Promise.all([dovecot?.destroy(), pg?.destroy()]);
});

const clusterConfig = (db: string, users: string[], inbound: Record<string, unknown>) => configFor(pg, dovecot, db, users, inbound, TTL_MS);
async function replica(dir: string, id: string) {
  const run = await spawnReplica(dir, id);
  runs.add(run);
  void run.exited.then(() => runs.delete(run));
  return run;
}
const owners = (db: string) => ownersOf(pg, db);

it('SIGKILL one of two replicas mid-ingest: the survivor polls every mailbox within 3×TTL, nothing lost or doubled', async () => {
  const { dir, url } = await clusterConfig('failover', KILL_USERS, { afterFetch: 'delete' });
  const a = await replica(dir, 'replica-a');
  const b = await replica(dir, 'replica-b');
  const view = await openPostgresStores({ url, schema: 'mailroom' });
  views.push(view);
  // both up and the mailboxes split between them
  const split = await waitFor(
    async () => {
      for (const r of [a, b]) if (r.child.exitCode !== null) throw new Error(`replica exited early:\n${r.output()}`);
      const o = await owners('failover').catch(() => new Map<string, string>());
      return o.size === KILL_USERS.length && heldBy(o, 'replica-a').length > 0 && heldBy(o, 'replica-b').length > 0 ? o : null;
    },
    60_000,
    'both replicas holding mailboxes',
  );
  const boxesOfA = heldBy(split, 'replica-a');
  const subjects = KILL_USERS.flatMap((u) => Array.from({ length: 20 }, (_, i) => `${u}-${i}`));
  await Promise.all(KILL_USERS.map((u) => dovecot.appendMany(u, Array.from({ length: 20 }, (_, i) => message(i, { subject: `${u}-${i}`, body: BODY })))));
  // kill A while it is reading its mailboxes: some of its mail already ingested and deleted, some not
  const tickets = async () => (await view.tickets.stats()).tickets;
  const leftIn = async (boxes: string[]) => (await Promise.all(boxes.map((b) => dovecot.list(userOf(b), 'INBOX')))).reduce((n, l) => n + l.length, 0);
  await waitFor(async () => (await leftIn(boxesOfA)) <= 20 * boxesOfA.length - 5, 30_000, 'A ingesting');
  a.child.kill('SIGKILL');
  const killedAt = Date.now();
  expect((await a.exited).signal).toBe('SIGKILL');
  const atKill = await tickets();
  const leftInA = await leftIn(boxesOfA);
  expect(leftInA, 'killed too late: A had read all its mail').toBeGreaterThan(0);

  // B holds every mailbox within 3×TTL of the kill
  await waitFor(async () => heldBy(await owners('failover'), 'replica-b').length === KILL_USERS.length, 3 * TTL_MS, 'B holding every mailbox');
  const takeoverMs = Date.now() - killedAt;
  // B counts them as takeovers (A never let go), not as free acquisitions
  const metricsOfB = await (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text();
  expect(Number(/^mailroom_lease_takeovers_total (\d+)$/m.exec(metricsOfB)?.[1])).toBeGreaterThanOrEqual(boxesOfA.length);
  await waitFor(async () => (await tickets()) >= subjects.length, 30_000, `${subjects.length} tickets`);
  const doneMs = Date.now() - killedAt;
  // and it polls them: a message arriving now in each of A's former mailboxes becomes a ticket
  for (const box of boxesOfA) await dovecot.append(userOf(box), message(500, { subject: `after-${box}` }));
  subjects.push(...boxesOfA.map((box) => `after-${box}`));
  await waitFor(async () => (await tickets()) >= subjects.length, 15_000, 'the mail that arrived after the takeover');
  await new Promise((r) => setTimeout(r, 1_500)); // a doubled ticket would show by now
  await expectExactlyOnce(view, subjects);
  for (const u of KILL_USERS) expect(await dovecot.list(u, 'INBOX'), u).toHaveLength(0);
  console.log(`failover: killed A (${boxesOfA.length} mailboxes, ${leftInA} messages left in them) at ${atKill}/${subjects.length - boxesOfA.length} tickets; B held every mailbox after ${takeoverMs} ms (TTL ${TTL_MS} ms), all ingested after ${doneMs} ms`);
  expect(b.output()).not.toMatch(/"level":"(error|fatal)"/);
}, 150_000);
