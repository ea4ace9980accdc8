// `mailroom store import` into a PostgreSQL store that is not empty: a ticket id PostgreSQL already
// has for ANOTHER ticket stops the import with a clear error (never two tickets under one id, never
// one silently skipped), and a fingerprint key PostgreSQL already has is kept and the import warns
// that the imported suspensions will resume (their fingerprints cannot be compared with it).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { main } from '../../src/main.js';
import { openEmbeddedStores } from '../../src/store/embedded/stores.js';
import { fingerprintKey } from '../../src/store/postgres/keys.js';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { sampleItem } from '../support/store-sample.js';

let pg: PostgresPeer;
let root: string;
beforeAll(async () => {
  pg = await startPostgres();
  root = await mkdtemp(join(tmpdir(), 'mailroom-import-'));
}, 60_000);
afterAll(async () => {
  await pg?.destroy();
  await rm(root, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const lines: string[] = [];
  const code = await main(argv, (s) => lines.push(s), (s) => lines.push(s));
  return { code, out: lines.join('\n') };
}

async function pgConfig(db: string): Promise<{ dir: string; url: string }> {
  const url = await pg.createDatabase(db);
  const dir = join(root, `config-${db}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'url'), `${url}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'mailroom.yaml'), stringify({ version: 1, store: { driver: 'postgres', urlFile: join(dir, 'url') }, companies: { acme: { ticketPrefix: 'ACME' } } }));
  return { dir, url };
}

/** An embedded store with two tickets and one suspension. */
async function embeddedStore(): Promise<string> {
  const path = join(root, 'data');
  const s = await openEmbeddedStores(path);
  try {
    await s.intake.commit([sampleItem({ uid: 1, prefix: 'ACME' }), sampleItem({ uid: 2, prefix: 'ACME' })], { mailbox: 'support', epoch: 0 });
    await s.control.setSuspension({ mailbox: 'support', reason: 'auth', code: 'AUTHENTICATIONFAILED', error: null, source: 'server', at: new Date().toISOString(), credentials: 'hmac-sha256:00', notified: false });
  } finally {
    await s.close();
  }
  return path;
}

let from: string;

it('keeps a fingerprint key PostgreSQL already has, imports the suspensions and warns that they resume', async () => {
  from = await embeddedStore();
  const { dir, url } = await pgConfig('key_db');
  const s = await openPostgresStores({ url });
  const existing = await fingerprintKey(s.sql);
  await s.close();
  const r = await cli('store', 'import', '--from', from, '--config', dir);
  expect(r.code, r.out).toBe(0);
  expect(r.out).toMatch(/fingerprint key: PostgreSQL has another one \(kept\)/);
  expect(r.out).toMatch(/warning: PostgreSQL already had another fingerprint key: the 1 imported suspension\(s\) cannot be compared with it, so their mailboxes resume/);
  const [row] = await pg.query<{ key: Buffer }>(`SELECT key FROM mailroom.store_keys WHERE name = 'fingerprint'`, [], 'key_db');
  expect(row!.key.equals(existing)).toBe(true);
}, 60_000);

it('stops on a ticket id PostgreSQL has for another ticket', async () => {
  const { dir, url } = await pgConfig('taken_db');
  const s = await openPostgresStores({ url });
  await new Promise((r) => setTimeout(r, 5)); // another creation time than the embedded tickets'
  const [mine] = await s.intake.commit([sampleItem({ uid: 77, mailbox: 'other', prefix: 'ACME' })], { mailbox: 'other', epoch: 0 });
  await s.close();
  expect(mine!.ticketId).toBe('ACME-000001');
  const r = await cli('store', 'import', '--from', from, '--config', dir);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/ticket ACME-000001 in PostgreSQL is another ticket .*import into an empty PostgreSQL store/);
  const tickets = await pg.query<{ id: string }>('SELECT id FROM mailroom.tickets', [], 'taken_db');
  expect(tickets.map((t) => t.id)).toEqual(['ACME-000001']);
}, 60_000);
