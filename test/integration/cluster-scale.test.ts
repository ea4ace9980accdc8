// Issue 22: three replicas (real processes, the CLI's `run` from source) on one PostgreSQL and one
// Dovecot with 60 mailboxes of 50 messages each. The mail is there before the replicas start, so they
// ingest while they are still joining and balancing the leases: every message must be a ticket exactly
// once, every INBOX emptied, and Dovecot's own log must show no mailbox with two sessions open at once
// (two replicas polling one mailbox). Peers start once for the file.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import type { Stores } from '../../src/store/port.js';
import type { Dovecot } from '../peers/dovecot.js';
import type { PostgresPeer } from '../peers/postgres.js';
import { message, waitFor } from '../support/daemon-config.js';
import { mailSessions, overlapping } from '../support/dovecot-sessions.js';
import { duplicates } from '../support/inbound.js';
import { clusterConfig, heldBy, owners, spawnReplica, type Replica, endReplicas, startClusterPeers } from '../support/replicas.js';

const MAILBOXES = 60;
const PER_BOX = 50;
const TTL_MS = 5_000;
const USERS = Array.from({ length: MAILBOXES }, (_, i) => `scale${String(i).padStart(2, '0')}`);

let dovecot: Dovecot;
let pg: PostgresPeer;
const runs: Replica[] = [];
let view: Stores | null = null;
beforeAll(async () => {
  // client_limit > 1: one imap process per session would take an inotify instance each (128 per uid)
  [dovecot, pg] = await startClusterPeers(USERS, { imapClientLimit: 20 });
}, 60_000);
afterEach(async () => {
  await endReplicas(runs, view ? [view] : []);
});
afterAll(async () => {
  await Promise.all([dovecot?.destroy(), pg?.destroy()]);
});

/** Every ticket's subject, page by page. */
async function allSubjects(v: Stores): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await v.tickets.list({ companies: '*', limit: 1000, cursor });
    out.push(...page.items.map((t) => t.subject));
    cursor = page.next;
  } while (cursor);
  return out;
}

it(`three replicas, ${MAILBOXES} mailboxes of ${PER_BOX} messages: every message a ticket exactly once, no mailbox polled by two replicas at once`, async () => {
  const subjects = USERS.flatMap((u) => Array.from({ length: PER_BOX }, (_, i) => `${u}-${i}`));
  await Promise.all(USERS.map((u) => dovecot.appendMany(u, Array.from({ length: PER_BOX }, (_, i) => message(i, { subject: `${u}-${i}` })))));
  const cfg = await clusterConfig(pg, dovecot, 'scale', USERS, { afterFetch: 'delete', batchSize: 25 }, TTL_MS);
  const t0 = Date.now();
  for (const id of ['replica-a', 'replica-b', 'replica-c']) runs.push(await spawnReplica(cfg.dir, id));
  view = await openPostgresStores({ url: cfg.url, schema: 'mailroom' });
  const v = view;
  await waitFor(
    async () => {
      for (const r of runs) if (r.child.exitCode !== null) throw new Error(`${r.id} exited:\n${r.output().slice(-3000)}`);
      return (await v.tickets.stats()).tickets >= subjects.length;
    },
    150_000,
    `${subjects.length} tickets`,
  );
  const ingestMs = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 1_500)); // a doubled ticket would show by now
  const got = await allSubjects(v);
  expect(duplicates(got)).toEqual([]);
  expect(got.length).toBe(subjects.length);
  expect(new Set(got)).toEqual(new Set(subjects));
  const left = (await Promise.all(USERS.map((u) => dovecot.list(u, 'INBOX')))).reduce((n, l) => n + l.length, 0);
  expect(left, 'messages left in the INBOXes').toBe(0);

  // the leases ended up spread over the three (bounded load: at most ceil(60/3) = 20 each)
  const o = await owners(pg, cfg.db);
  const shares = runs.map((r) => heldBy(o, r.id).length);
  expect(shares.reduce((a, b) => a + b, 0)).toBe(MAILBOXES);
  for (const s of shares) expect(s).toBeGreaterThan(0);
  for (const s of shares) expect(s).toBeLessThanOrEqual(Math.ceil((MAILBOXES + 1) / 3)); // + the outbox lease

  // Dovecot's record: no user (mailbox) had two sessions open at the same time
  const sessions = await mailSessions(dovecot);
  expect(new Set(sessions.map((s) => s.user)).size).toBe(MAILBOXES);
  expect(overlapping(sessions).map(([a, b]) => `${a.user}: ${a.session} and ${b.session}`)).toEqual([]);
  for (const r of runs) {
    expect(r.child.exitCode, r.id).toBeNull();
    expect(r.output()).not.toMatch(/"level":"fatal"|uncaught/i);
  }
  console.log(`cluster scale: ${subjects.length} messages in ${MAILBOXES} mailboxes ingested by 3 replicas in ${ingestMs} ms (from the first start), leases ${shares.join('/')}, ${sessions.length} IMAP sessions, none overlapping`);
}, 240_000);
