// PostgreSQL stopped for 20 s and started again (pg_ctl stop -m fast / start, same data directory
// and port) while two replicas (child processes, lease TTL 3 s) ingest from one Dovecot: meanwhile
// both answer /-/ready with 503 and the reason (mailroom_store_up 0), neither crashes; once it is
// back both are ready again on their own, no restart, and every message is a ticket exactly once,
// every INBOX emptied, mail arriving afterwards ingested too.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import type { Stores } from '../../src/store/port.js';
import type { Dovecot } from '../peers/dovecot.js';
import type { PostgresPeer } from '../peers/postgres.js';
import { message, waitFor } from '../support/daemon-config.js';
import { clusterConfig, expectExactlyOnce, get, heldBy, metricSum, owners, spawnReplica, type Replica, endReplicas, startClusterPeers } from '../support/replicas.js';

const TTL_MS = 3_000;
const OUTAGE_MS = 20_000;
const USERS = ['o1', 'o2', 'o3', 'o4', 'o5', 'o6'];
const PER_BOX = 30;
const BODY = ('x'.repeat(76) + '\r\n').repeat(60); // ~4.7 KB: ingest takes long enough to be caught in the middle

let dovecot: Dovecot;
let pg: PostgresPeer;
const runs = new Set<Replica>();
const views: Stores[] = [];
beforeAll(async () => {
  [dovecot, pg] = await startClusterPeers(USERS);
}, 60_000);
afterEach(async () => {
  await endReplicas(runs, views);
  runs.clear();
});
afterAll(async () => {
  await Promise.all([dovecot?.destroy(), pg?.destroy()]);
});

const readiness = async (r: Replica) => {
  const { status, text } = await get(r, '/-/ready').catch((e: Error) => {
    throw new Error(`${r.id} did not answer /-/ready (${e.message}; exit ${r.child.exitCode ?? r.child.signalCode}):\n${r.output().slice(-3000)}`);
  });
  return { status, body: JSON.parse(text) as { status: string; reason?: string } };
};

it('PostgreSQL down for 20 s mid-ingest: replicas not ready meanwhile, nothing lost or doubled, ready again on their own', async () => {
  const cfg = await clusterConfig(pg, dovecot, 'outage', USERS, { afterFetch: 'delete' }, TTL_MS);
  const replicas = [await spawnReplica(cfg.dir, 'replica-a'), await spawnReplica(cfg.dir, 'replica-b')];
  for (const r of replicas) runs.add(r);
  const view = await openPostgresStores({ url: cfg.url, schema: 'mailroom' });
  views.push(view);
  await waitFor(
    async () => {
      for (const r of replicas) if (r.child.exitCode !== null) throw new Error(`replica exited early:\n${r.output()}`);
      const o = await owners(pg, cfg.db).catch(() => new Map<string, string>());
      return o.size === USERS.length && heldBy(o, 'replica-a').length > 0 && heldBy(o, 'replica-b').length > 0;
    },
    60_000,
    'both replicas holding mailboxes',
  );
  for (const r of replicas) {
    expect((await readiness(r)).status, r.id).toBe(200);
    expect(await metricSum(r, 'mailroom_store_up'), r.id).toBe(1);
  }
  const subjects = USERS.flatMap((u) => Array.from({ length: PER_BOX }, (_, i) => `${u}-${i}`));
  await Promise.all(USERS.map((u) => dovecot.appendMany(u, Array.from({ length: PER_BOX }, (_, i) => message(i, { subject: `${u}-${i}`, body: BODY })))));
  const tickets = async () => (await view.tickets.stats()).tickets;
  await waitFor(async () => (await tickets()) >= 10, 30_000, 'ingest under way');
  await pg.stop();
  const stoppedAt = Date.now();
  const left = (await Promise.all(USERS.map((u) => dovecot.list(u, 'INBOX')))).reduce((n, l) => n + l.length, 0);
  expect(left, 'stopped too late: everything was ingested').toBeGreaterThan(0);

  // both not ready while it is down, with the reason; the password never in it
  for (const r of replicas) {
    const notReady = await waitFor(async () => {
      const x = await readiness(r);
      return x.status === 503 ? x.body : null;
    }, 12_000, `${r.id} not ready`);
    expect(notReady.reason, r.id).toMatch(/^store unreachable: /);
    expect(notReady.reason).not.toContain(pg.password);
    expect(await metricSum(r, 'mailroom_store_up'), r.id).toBe(0);
  }
  const notReadyAfterMs = Date.now() - stoppedAt;
  await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - stoppedAt)));
  for (const r of replicas) {
    expect(r.child.exitCode, `${r.id} survived the outage:\n${r.output().slice(-2000)}`).toBeNull();
    expect((await readiness(r)).status, `${r.id} still not ready at the end of the outage`).toBe(503);
  }
  await pg.start();
  const startedAt = Date.now();

  // ready again on their own, and the ingest resumes
  for (const r of replicas) await waitFor(async () => (await readiness(r)).status === 200, 15_000, `${r.id} ready again`);
  const readyAgainMs = Date.now() - startedAt;
  // seconds, not the driver's default reconnect backoff (10–20 s apart after a 20 s outage: 17 s here)
  expect(readyAgainMs, 'both ready again').toBeLessThan(10_000);
  for (const r of replicas) expect(await metricSum(r, 'mailroom_store_up'), r.id).toBe(1);
  await waitFor(async () => (await tickets().catch(() => 0)) >= subjects.length, 60_000, `${subjects.length} tickets`);
  const doneMs = Date.now() - startedAt;
  for (const u of USERS) await dovecot.append(u, message(500, { subject: `after-${u}` }));
  subjects.push(...USERS.map((u) => `after-${u}`));
  await waitFor(async () => (await tickets()) >= subjects.length, 20_000, 'the mail that arrived after the outage');
  await new Promise((r) => setTimeout(r, 1_500)); // a doubled ticket would show by now
  await expectExactlyOnce(view, subjects);
  for (const u of USERS) expect(await dovecot.list(u, 'INBOX'), u).toHaveLength(0);
  for (const r of replicas) {
    expect(r.child.exitCode, r.id).toBeNull();
    expect(r.output()).not.toMatch(/"level":"fatal"|TypeError|uncaught/i);
    expect(r.output()).not.toContain(pg.password);
  }
  console.log(`store outage: PostgreSQL stopped with ${left} messages in the INBOXes, both replicas not ready after ${notReadyAfterMs} ms; started after ${OUTAGE_MS} ms, ready again after ${readyAgainMs} ms, all ${subjects.length - USERS.length} ingested ${doneMs} ms after the start`);
}, 180_000);
