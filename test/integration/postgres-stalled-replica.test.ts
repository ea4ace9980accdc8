// Why this file exists: a replica stopped in the middle of a statement (SIGSTOP between postgres.js's
// Describe and its Bind/Execute) leaves a session `active` on ClientRead that keeps its transaction's
// locks, which PostgreSQL's idle-in-transaction timeout does not end: the lease row its fence check
// read FOR SHARE stayed locked, and another replica's takeover waited on it for as long as the
// replica was stopped, with that replica's whole lease round stuck behind it (every lease it held ran
// out: no mailbox polled by anyone). Now the lease statements wait a sixth of the TTL at most (an
// acquire is then "not acquired") and the next heartbeat ends the stalled session, so the takeover goes through and the
// stopped replica's late write is refused by the fence. Real PostgreSQL; the stalled session is made
// with the wire protocol (test/support/pg-stall.ts).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgresStores, type PostgresStores } from '../../src/store/postgres/stores.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { stallSession, type StalledSession } from '../support/pg-stall.js';
import { sampleItem } from '../support/store-sample.js';

const TTL = 1_000;
let pg: PostgresPeer;
let store: PostgresStores | undefined;
let stalled: StalledSession | undefined;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  stalled?.destroy();
  await store?.close();
  await pg?.destroy();
});

it("a stopped replica's half-sent statement does not hold up the takeover of its mailbox", async () => {
  // the TTL's settings as store/open.ts derives them from store.leaseTtl
  store = await openPostgresStores({ url: pg.url(), schema: 'stall', poolMax: 4, idleInTransactionTimeoutMs: TTL / 2 });
  const old = (await store.cluster.acquire('support', 'replica-a', TTL))!;
  // replica A checks its fence (locks the lease row FOR SHARE) and stops mid-statement
  stalled = await stallSession(pg, { db: 'postgres', applicationName: 'mailroom', lockSql: `SELECT epoch FROM stall.mailbox_leases WHERE mailbox = 'support' FOR SHARE` });
  const state = async () => (await pg.query<{ state: string; wait_event: string }>(`SELECT state, wait_event FROM pg_stat_activity WHERE application_name = 'mailroom' AND state = 'active'`))[0];
  for (let i = 0; (await state())?.wait_event !== 'ClientRead'; i++) {
    if (i > 50) throw new Error(`the stalled session did not stall: ${stalled.said()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, TTL + 100)); // A's lease runs out unrenewed

  // B's acquire does not wait on the locked row for ever: "not acquired" after a sixth of the TTL
  const t0 = Date.now();
  expect(await store.cluster.acquire('support', 'replica-b', TTL)).toBeNull();
  expect(Date.now() - t0).toBeLessThan(TTL);
  // B's heartbeat ends the stalled session (stalled for more than a third of the TTL) ...
  const hb = await store.cluster.heartbeat({ id: 'replica-b', configHash: null }, TTL);
  expect(hb.stalledEnded).toBe(1);
  await stalled.closed;
  expect(stalled.said()).toMatch(/terminating connection due to administrator command/);
  // ... and the next acquire takes the mailbox over; A's late write is refused by the fence
  expect(await store.cluster.acquire('support', 'replica-b', TTL)).toEqual({ mailbox: 'support', epoch: old.epoch + 1 });
  await expect(store.intake.commit([sampleItem({ uid: 1 })], old)).rejects.toMatchObject({ code: 'fenced' });
  // the live replica's own sessions are never ended
  expect((await store.cluster.heartbeat({ id: 'replica-b', configHash: null }, TTL)).stalledEnded).toBeUndefined();
  expect((await store.tickets.stats()).tickets).toBe(0);
}, 30_000);
