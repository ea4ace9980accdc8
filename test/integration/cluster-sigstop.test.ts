// A replica paused past its lease (SIGSTOP: a long GC pause, a frozen VM, a partition) and resumed,
// with two replicas as real processes on one PostgreSQL and one Dovecot, lease TTL 3 s:
// the other replica takes its mailboxes over and ingests everything; once SIGCONTed the paused one's
// late commit is refused by the fence (mailroom_fence_refusals_total, its log), no message becomes
// two tickets, none is moved twice (each exactly once in Processed, INBOX empty), it rejoins (a member
// in /v1/status, holding mailboxes again) and it did not crash. The first test pauses it exactly
// before a commit (test/support/crash-child.ts, MAILROOM_STOP_BEFORE_COMMIT), so the fence must act;
// the second sends SIGSTOP from outside at whatever point the ingest is.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import type { Stores } from '../../src/store/port.js';
import type { Dovecot } from '../peers/dovecot.js';
import type { PostgresPeer } from '../peers/postgres.js';
import { message, waitFor } from '../support/daemon-config.js';
import { duplicates } from '../support/inbound.js';
import { clusterConfig, expectExactlyOnce, get, heldBy, isStopped, metricSum, owners, spawnReplica, userOf, type Replica, endReplicas, startClusterPeers } from '../support/replicas.js';

const TTL_MS = 3_000;
const USERS = ['s1', 's2', 's3', 's4', 's5', 's6'];
const PER_BOX = 20;
const BODY = ('x'.repeat(76) + '\r\n').repeat(60); // ~4.7 KB: ingest takes long enough to be caught in the middle

let dovecot: Dovecot;
let pg: PostgresPeer;
const runs = new Set<Replica>();
const views: Stores[] = [];
beforeAll(async () => {
  [dovecot, pg] = await startClusterPeers([...USERS, ...USERS.map((u) => `x${u}`)]);
}, 60_000);
afterEach(async () => {
  await endReplicas(runs, views);
  runs.clear();
});
afterAll(async () => {
  await Promise.all([dovecot?.destroy(), pg?.destroy()]);
});

async function replica(dir: string, id: string, env: NodeJS.ProcessEnv = {}): Promise<Replica> {
  const r = await spawnReplica(dir, id, env);
  runs.add(r);
  return r;
}

/** Two replicas, mail in every mailbox, A paused by `pause` mid-ingest; returns what the checks need. */
async function scenario(db: string, users: string[], pauseA: { env: NodeJS.ProcessEnv; pause: (a: Replica, leftIn: (boxes: string[]) => Promise<number>, boxesOfA: string[]) => Promise<void> }) {
  const cfg = await clusterConfig(pg, dovecot, db, users, { afterFetch: 'move', moveTo: 'Processed' }, TTL_MS);
  const a = await replica(cfg.dir, 'replica-a', pauseA.env);
  const b = await replica(cfg.dir, 'replica-b');
  const view = await openPostgresStores({ url: cfg.url, schema: 'mailroom' });
  views.push(view);
  const split = await waitFor(
    async () => {
      for (const r of [a, b]) if (r.child.exitCode !== null) throw new Error(`replica exited early:\n${r.output()}`);
      const o = await owners(pg, db).catch(() => new Map<string, string>());
      return o.size === users.length && heldBy(o, 'replica-a').length > 0 && heldBy(o, 'replica-b').length > 0 ? o : null;
    },
    60_000,
    'both replicas holding mailboxes',
  );
  const boxesOfA = heldBy(split, 'replica-a');
  const subjects = users.flatMap((u) => Array.from({ length: PER_BOX }, (_, i) => `${u}-${i}`));
  await Promise.all(users.map((u) => dovecot.appendMany(u, Array.from({ length: PER_BOX }, (_, i) => message(i, { subject: `${u}-${i}`, body: BODY })))));
  const leftIn = async (boxes: string[]) => (await Promise.all(boxes.map((x) => dovecot.list(userOf(x), 'INBOX')))).reduce((n, l) => n + l.length, 0);
  await pauseA.pause(a, leftIn, boxesOfA);
  expect(await isStopped(a.child.pid!), 'A stopped').toBe(true);
  const stoppedAt = Date.now();
  const leftInA = await leftIn(boxesOfA);
  const tickets = async () => (await view.tickets.stats()).tickets;
  // B takes every mailbox over once A's leases expire unrenewed, and ingests everything
  await waitFor(async () => heldBy(await owners(pg, db), 'replica-b').length === users.length, 4 * TTL_MS, 'B holding every mailbox').catch(async (e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify([...(await owners(pg, db))])}; B's output:\n${b.output().slice(-3000)}`);
  });
  const takeoverMs = Date.now() - stoppedAt;
  await waitFor(async () => (await tickets()) >= subjects.length, 30_000, `${subjects.length} tickets`);
  expect(await isStopped(a.child.pid!), 'A still stopped, well past its lease').toBe(true);
  const pausedMs = Date.now() - stoppedAt;
  a.child.kill('SIGCONT');
  return { a, b, view, db, subjects, boxesOfA, leftInA, takeoverMs, pausedMs, tickets };
}

/** After the SIGCONT: A rejoins and polls again, new mail is ingested once, nothing doubled or moved twice, no crash. */
async function afterResume(s: Awaited<ReturnType<typeof scenario>>, users: string[]): Promise<void> {
  const { a, b, view, db, subjects, tickets } = s;
  // A rejoins: a member again (seen by B) and holding mailboxes again
  await waitFor(
    async () => {
      if (a.child.exitCode !== null) throw new Error(`A exited after SIGCONT:\n${a.output().slice(-3000)}`);
      const status = JSON.parse((await get(b, '/v1/status')).text) as { cluster: { members: { id: string }[] } };
      return status.cluster.members.some((m) => m.id === 'replica-a');
    },
    15_000,
    'A a member again in /v1/status',
  );
  await waitFor(async () => heldBy(await owners(pg, db), 'replica-a').length > 0, 30_000, 'A holding mailboxes again');
  // and every mailbox is polled: mail arriving now becomes a ticket once
  for (const u of users) await dovecot.append(u, message(500, { subject: `after-${u}` }));
  subjects.push(...users.map((u) => `after-${u}`));
  await waitFor(async () => (await tickets()) >= subjects.length, 20_000, 'the mail that arrived after A rejoined');
  await new Promise((r) => setTimeout(r, 1_500)); // a doubled ticket would show by now
  await expectExactlyOnce(view, subjects);
  for (const u of users) {
    expect(await dovecot.list(u, 'INBOX'), `${u} INBOX`).toHaveLength(0);
    // each message moved once: exactly the mailbox's own subjects in Processed, none twice
    const moved = (await dovecot.list(u, 'Processed')).map((m) => m.subject);
    expect(duplicates(moved), `${u} Processed`).toEqual([]);
    expect(moved.sort(), `${u} Processed`).toEqual(subjects.filter((x) => x.startsWith(`${u}-`) || x === `after-${u}`).sort());
  }
  for (const r of [a, b]) {
    expect(r.child.exitCode, `${r.id} running`).toBeNull();
    expect(r.output()).not.toMatch(/"level":"fatal"|TypeError|uncaught/i);
  }
}

it('paused right before a commit, past its lease: the late commit is refused by the fence, nothing lost, doubled or moved twice; it rejoins', async () => {
  const s = await scenario('sigstop_commit', USERS, {
    // A commits one batch, then stops itself before its second commit (the batch fetched, not yet committed)
    env: { MAILROOM_STOP_BEFORE_COMMIT: '2' },
    pause: async (a) => {
      await waitFor(async () => (a.child.exitCode === null ? isStopped(a.child.pid!) : Promise.reject(new Error(a.output()))), 30_000, 'A stopped before a commit');
    },
  });
  const stale = /SIGSTOP before commit 2 \((\d+) items, (box-\S+) epoch (\d+)\)/.exec(s.a.output());
  expect(stale, s.a.output()).not.toBeNull();
  // the late commit is refused by the store's fence, in the commit's own transaction
  const answer = await waitFor(() => /crash-child: late commit (ACCEPTED|REFUSED)[^\n]*/.exec(s.a.output())?.[0], 15_000, "the store's answer to A's late commit");
  expect(answer).toMatch(new RegExp(`REFUSED: fenced: .*write with epoch ${stale![3]} refused`));
  // and the replica itself says so, although its lease round had stopped that mailbox's poller
  await waitFor(async () => (await metricSum(s.a, 'mailroom_fence_refusals_total')) >= 1, 10_000, "A's fence refusal counted");
  expect(s.a.output()).toMatch(/commit refused by the fence/);
  await afterResume(s, USERS);
  console.log(
    `sigstop (before a commit): A stopped with ${stale![1]} messages of ${stale![2]} (epoch ${stale![3]}) in hand, ${s.leftInA} left in its mailboxes; B held every mailbox after ${s.takeoverMs} ms (TTL ${TTL_MS} ms); A resumed after ${s.pausedMs} ms, its commit refused, it rejoined`,
  );
}, 150_000);

it('SIGSTOP from outside mid-ingest, past its lease, then SIGCONT: nothing lost, doubled or moved twice; it rejoins and did not crash', async () => {
  const users = USERS.map((u) => `x${u}`);
  const s = await scenario('sigstop_outside', users, {
    env: {},
    pause: async (a, leftIn, boxesOfA) => {
      await waitFor(async () => (await leftIn(boxesOfA)) <= PER_BOX * boxesOfA.length - 5, 30_000, 'A ingesting');
      a.child.kill('SIGSTOP');
      await waitFor(() => isStopped(a.child.pid!), 5_000, 'A stopped');
    },
  });
  await afterResume(s, users);
  const refused = await metricSum(s.a, 'mailroom_fence_refusals_total');
  console.log(`sigstop (outside): ${s.leftInA} messages left in A's mailboxes; B held every mailbox after ${s.takeoverMs} ms; A resumed after ${s.pausedMs} ms, ${refused} writes refused by the fence, it rejoined`);
}, 150_000);
