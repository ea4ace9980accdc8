// The process of test/integration/postgres-dropped-connections.test.ts, run from source:
//   node --import tsx test/support/pg-dropped-child.ts <postgres url> <seconds>
// Opens the PostgreSQL store and keeps transactions in flight on its pool (a slow one, and real
// store commits) while the test terminates their backends (pg_terminate_backend, what a PostgreSQL
// restart or failover does to a replica). Every failed call must reject with an error the caller
// can handle; the process must never die of it. postgres 3.4.9/3.4.10 did: the ROLLBACK that
// sql.begin sends after its connection closed was written to a null socket from a setImmediate
// (TypeError: Cannot read properties of null (reading 'write'), porsager/postgres #1154 / #1208),
// an uncaught exception no caller can catch. Prints one JSON line and exits 0 when it survived.
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import { sampleItem } from './store-sample.js';

const [url, secs] = process.argv.slice(2);
if (!url) throw new Error('pg-dropped-child: <postgres url> <seconds>');
process.on('uncaughtException', (e) => {
  process.stdout.write(JSON.stringify({ crashed: `${e.name}: ${e.message}`, stack: e.stack?.split('\n').slice(0, 4).join(' | ') }) + '\n');
  process.exit(3);
});
const store = await openPostgresStores({ url, schema: 'dropped', poolMax: 4, applicationName: 'mailroom-dropped' });
process.stdout.write('ready\n');
const deadline = Date.now() + Number(secs ?? 5) * 1000;
let ok = 0;
let failed = 0;
let uid = 0;
const count = async (p: Promise<unknown>) => {
  try {
    await p;
    ok++;
  } catch {
    failed++;
  }
};
const worker = async (w: number) => {
  while (Date.now() < deadline) {
    if (w % 2 === 0) await count(store.sql.begin(async (tx) => [await tx`SELECT pg_sleep(0.05)`, await tx`SELECT 1`]));
    else await count(store.intake.commit([sampleItem({ uid: ++uid })], { mailbox: 'support', epoch: 0 }));
  }
};
await Promise.all([0, 1, 2, 3].map(worker));
// the pool recovers: a query after the storm succeeds (the test stops terminating on this line; a
// terminate it sent just before has landed after the pause)
process.stdout.write('storm over\n');
await new Promise((r) => setTimeout(r, 500));
await store.sql`SELECT 1`;
await store.close();
process.stdout.write(JSON.stringify({ ok, failed }) + '\n');
