// Why this file exists: a dropped PostgreSQL connection (a restart, a failover, an idle-in-transaction
// timeout after SIGSTOP) must fail the store call that was using it, never the process. On a real
// PostgreSQL, a child process (test/support/pg-dropped-child.ts) keeps transactions in flight on the
// store's pool while this test terminates their backends for a few seconds; the child must survive,
// with failed calls counted, and its pool must work afterwards. With postgres 3.4.9 the child died
// of `TypeError: Cannot read properties of null (reading 'write')` in every run (within ~1 s).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { spawnScript } from '../support/daemon-process.js';

const CHILD = fileURLToPath(new URL('../support/pg-dropped-child.ts', import.meta.url));
let pg: PostgresPeer;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.destroy();
});

it('terminating the store connections under in-flight transactions fails those calls, not the process', async () => {
  const url = await pg.createDatabase('dropped_db');
  const run = spawnScript(CHILD, [url, '5']);
  const started = Date.now();
  while (!run.output().includes('ready')) {
    if (run.child.exitCode !== null || Date.now() - started > 30_000) throw new Error(`child did not open the store:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let exited = false;
  void run.exited.then(() => (exited = true));
  let terminated = 0;
  while (!exited && !run.output().includes('storm over')) {
    await new Promise((r) => setTimeout(r, 30 + Math.random() * 50));
    const rows = await pg.query<{ t: boolean }>(`SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE application_name = 'mailroom-dropped'`, [], 'dropped_db');
    terminated += rows.filter((r) => r.t).length;
  }
  const { code } = await run.exited; // after its check that the pool works again
  const last = run.output().trim().split('\n').pop()!;
  expect(last, run.output()).not.toMatch(/crashed/);
  expect(code, run.output()).toBe(0);
  const r = JSON.parse(last) as { ok: number; failed: number };
  console.log(`dropped connections: ${terminated} backends terminated, ${r.failed} store calls failed, ${r.ok} succeeded; the process survived`);
  expect(terminated).toBeGreaterThan(10);
  expect(r.failed).toBeGreaterThan(0);
  expect(r.ok).toBeGreaterThan(0);
}, 60_000);
