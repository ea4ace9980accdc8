// Issue 22, `mailroom store migrate` and `mailroom store import`: how a user outgrows one machine.
// A real daemon on the embedded store ingests real mail from a real Dovecot (IMAP with a threaded
// reply, an attachment and a held ticket; POP3 leaving mail on the server), delivers webhooks to a
// real receiver (one dead letter), acknowledges and sends API mail (outbox), refreshes a rotating
// OAuth2 grant (OAuth state) and gets its OAuth2 sender suspended. It is stopped, the store is
// imported into a real PostgreSQL through the CLI, and everything is compared through the PostgreSQL
// store's port: the same tickets, byte-identical blobs, checkpoints, UIDLs, pending actions,
// deliveries, outbox, suspensions, OAuth state. A second import adds nothing.
import { loadMigrations } from '../../src/store/postgres/migrate.js';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { main } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { openEmbeddedStores, type EmbeddedStores } from '../../src/store/embedded/stores.js';
import { loadConfig } from '../../src/config/load.js';
import { openStores } from '../../src/store/open.js';
import type { Stores } from '../../src/store/port.js';
import type { Ticket } from '../../src/store/types.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startOAuthSmtpServer, type OAuthSmtpPeer } from '../peers/oauth-smtp.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { startReceiver, type Receiver } from '../peers/webhook-receiver.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { makeUsers } from '../support/inbound.js';
import { api } from './outbound-support.js';

const ACME = 'import-acme-token-0123456789';
const CLIENT_SECRET = 'import-client-secret';
const HOOK_SECRET = 'import-webhook-secret-0123456789';

let dovecot: Dovecot;
let smtp: SmtpPeer;
let oauth: OAuthPeer;
let smtpOut: OAuthSmtpPeer;
let receiver: Receiver;
let pg: PostgresPeer;
const cleanup: string[] = [];

beforeAll(async () => {
  oauth = await startOAuthServer({ rotate: true });
  [dovecot, smtp, smtpOut, receiver, pg] = await Promise.all([
    startDovecot({ users: makeUsers(['imp-desk', 'imp-pop']) }),
    startSmtpServer(),
    startOAuthSmtpServer(oauth),
    startReceiver(HOOK_SECRET),
    startPostgres(),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([smtp?.close(), smtpOut?.close(), oauth?.close(), receiver?.close()]);
  await Promise.allSettled([dovecot?.destroy(), pg?.destroy()]);
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

/** Run the CLI in-process; its output lines and exit code. */
async function cli(...argv: string[]): Promise<{ code: number | undefined; out: string }> {
  const lines: string[] = [];
  const code = await main(argv, (s) => lines.push(s), (s) => lines.push(s));
  return { code, out: lines.join('\n') };
}

/** A config directory like `from`'s, its store: PostgreSQL (the URL in a file, as in production). */
async function postgresConfig(fromDir: string, db: string): Promise<string> {
  const dir = join(dirname(fromDir), `pg-config-${db}`);
  const c = parse(await readFile(join(fromDir, 'mailroom.yaml'), 'utf8'));
  const urlFile = join(dirname(fromDir), `pg-url-${db}`);
  await writeFile(urlFile, `${await pg.createDatabase(db)}\n`, { mode: 0o600 });
  c.store = { driver: 'postgres', urlFile };
  await (await import('node:fs/promises')).mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'mailroom.yaml'), stringify(c));
  return dir;
}

const attachmentMail = (i: number) =>
  [
    `From: Customer ${i} <customer${i}@client.example>`,
    'To: desk@acme.example',
    'Subject: Invoice attached',
    `Message-ID: <att-${i}@client.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See the attachment.',
    '--b1',
    'Content-Type: application/octet-stream; name="invoice.bin"',
    'Content-Disposition: attachment; filename="invoice.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(Array.from({ length: 3000 }, (_, k) => (k * 7 + i) % 256)).toString('base64').replace(/.{76}/g, '$&\r\n'),
    '--b1--',
    '',
  ].join('\r\n');

/** Everything the port shows of a store, for comparing two stores. */
async function snapshotOf(s: Stores, mailboxes: string[], deliveryIds: string[], outboxIds: string[]) {
  const tickets: Ticket[] = [];
  let cursor: string | null = null;
  do {
    const page = await s.tickets.list({ companies: '*', limit: 100, cursor });
    for (const t of page.items) tickets.push((await s.tickets.get(t.id))!);
    cursor = page.next;
  } while (cursor);
  const blobs = new Map<string, Buffer>();
  for (const t of tickets)
    for (const a of t.articles)
      for (const hash of [a.rawRef, ...a.attachments.map((x) => x.id)]) {
        if (!hash) continue;
        const open = await s.tickets.openBlob(hash);
        const parts: Buffer[] = [];
        for await (const chunk of open!.stream) parts.push(chunk as Buffer);
        blobs.set(hash, Buffer.concat(parts));
        expect(open!.length).toBe(blobs.get(hash)!.length);
      }
  const sync: Record<string, unknown> = {};
  for (const mb of mailboxes) {
    sync[mb] = {
      checkpoint: await s.sync.checkpoint(mb, 'INBOX'),
      uidls: [...(await s.sync.uidls(mb))].sort(),
      pending: (await s.sync.pendingActions(mb)).map((p) => JSON.parse(JSON.stringify(p))).sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }
  return {
    tickets,
    blobs,
    sync,
    deliveries: await Promise.all(deliveryIds.map((id) => s.deliveries.get(id))),
    dead: (await s.deliveries.dead()).map((d) => d.id).sort(),
    outbox: await Promise.all(outboxIds.map((id) => s.outbox.get(id))),
    suspensions: await s.control.suspensions(),
    oauth: (await s.control.oauthState('sender')).state,
  };
}

describe('mailroom store migrate', () => {
  it('creates the schema on an empty database, then has nothing to do; refuses a config whose store is not postgres', async () => {
    const cfg = await writeTestConfig(dovecot, []);
    cleanup.push(dirname(cfg.dir));
    const pgDir = await postgresConfig(cfg.dir, 'migrate_db');
    const first = await cli('store', 'migrate', '--config', pgDir);
    const all = (await loadMigrations()).map((m) => m.version);
    expect(first.out).toContain(`schema mailroom: applied migrations ${all.join(', ')}; the schema is at version ${all.at(-1)}`);
    expect(first.out).not.toContain(pg.password);
    expect(first.code).toBe(0);
    const tables = await pg.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'mailroom' ORDER BY 1`, [], 'migrate_db');
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['tickets', 'articles', 'blobs', 'deliveries', 'outbox', 'store_keys', 'schema_migrations']));
    const second = await cli('store', 'migrate', '--config', pgDir);
    expect(second).toEqual({ code: 0, out: expect.stringMatching(new RegExp(`up to date at version ${all.at(-1)}, nothing to apply`)) });
    const refused = await cli('store', 'migrate', '--config', cfg.dir);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/store migrate needs a config whose store.driver is postgres; .* has store.driver lowdb/);
    const refusedImport = await cli('store', 'import', '--from', cfg.dataDir, '--config', cfg.dir);
    expect(refusedImport.code).toBe(1);
    expect(refusedImport.out).toMatch(/store import needs a config whose store.driver is postgres/);
    expect((await cli('store', 'import', '--config', pgDir)).code).toBe(2); // no --from
    const nowhere = await cli('store', 'import', '--from', join(cfg.dataDir, 'typo'), '--config', pgDir);
    expect(nowhere).toEqual({ code: 1, out: expect.stringMatching(/no embedded store at .*typo/) });
  }, 60_000);
});

describe('mailroom store import', () => {
  it('moves a store written by the daemon into PostgreSQL: the same tickets, blobs, sync state, queues and control state; a second run adds nothing', async () => {
    const cfg = await writeTestConfig(dovecot, [
      { id: 'desk', user: 'imp-desk', protocol: 'imap', inbound: { idle: false, afterFetch: 'move', moveTo: 'Done' } },
      { id: 'pop', user: 'imp-pop', protocol: 'pop3', inbound: { afterFetch: 'keep' } },
    ]);
    cleanup.push(dirname(cfg.dir));
    await writeFile(join(cfg.passwordsDir, 'client-secret'), `${CLIENT_SECRET}\n`);
    oauth.addClient('import-app', CLIENT_SECRET, { rotate: true });
    await writeFile(join(cfg.passwordsDir, 'sender-rt'), `${oauth.grant('import-app', 'sender')}\n`);
    const file = join(cfg.dir, 'mailroom.yaml');
    const c = parse(await readFile(file, 'utf8'));
    c.server.apiTokens = [{ name: 'acme', token: ACME, companies: ['acme'] }];
    c.mailboxes.desk.address = 'desk@acme.example';
    c.mailboxes.desk.outbound = { host: '127.0.0.1', port: smtp.port, security: 'none', from: { address: 'desk@acme.example' } };
    c.mailboxes.sender = {
      auth: { user: 'sender', oauth2: { flow: 'refresh_token', clientId: 'import-app', tokenUrl: oauth.tokenUrl, clientSecretFile: join(cfg.passwordsDir, 'client-secret'), refreshTokenFile: join(cfg.passwordsDir, 'sender-rt') } },
      outbound: { host: '127.0.0.1', port: smtpOut.port, security: 'none', from: { address: 'sender@acme.example' } },
    };
    c.companies.acme.ticketPrefix = 'ACME';
    c.companies.acme.contracts.main.outbound = 'desk';
    c.companies.acme.contracts.oa = { outbound: 'sender' };
    c.webhooks = { erp: { url: receiver.url, secret: HOOK_SECRET, timeout: '5s', initialBackoff: '100ms', maxBackoff: '300ms' } };
    c.routes = [
      { name: 'vip', match: { mailbox: 'desk', subject: 'VIP' }, deliver: ['webhook:erp'], hold: true },
      { name: 'to-erp', match: { mailbox: 'desk' }, deliver: ['webhook:erp'] },
    ];
    await writeFile(file, stringify(c));

    // 15 on IMAP (a reply threaded onto the first, an attachment, a held VIP), 5 on POP3 (left on the server)
    const desk = Array.from({ length: 12 }, (_, i) => message(i + 1, { messageId: `<desk-${i + 1}@client.example>` }));
    desk.push(message(13, { subject: 'Re: Request 1', messageId: '<desk-13@client.example>' }).replace('MIME-Version', 'In-Reply-To: <desk-1@client.example>\r\nMIME-Version'));
    desk.push(attachmentMail(14));
    desk.push(message(15, { subject: 'VIP: call me', messageId: '<desk-15@client.example>' }));
    await dovecot.appendMany('imp-desk', desk);
    await dovecot.appendMany('imp-pop', Array.from({ length: 5 }, (_, i) => message(100 + i)));
    receiver.failNext(1, 400); // the first delivery is dead-lettered

    const daemon = new Daemon({
      configPath: cfg.dir, parseWorkers: 0, watch: false, logger: createLogger('silent'),
      outbox: { initialBackoffMs: 100, maxBackoffMs: 300, laneBackoffMs: 50, stopTimeoutMs: 1000 },
    });
    await daemon.start();
    const pgDir = await postgresConfig(cfg.dir, 'import_db');
    try {
      const parts = () => (daemon.stores as EmbeddedStores).parts;
      await waitFor(() => parts().tickets.stats().articles === 20, 20_000, '20 articles');
      await waitFor(() => parts().webhooks.dead('erp').length === 1 && parts().webhooks.totals().get('erp')?.held === 1, 15_000, 'a dead letter and a held delivery');
      const client = api(`http://127.0.0.1:${daemon.http.address()!.port}`, ACME);
      const send = (contract: string, subject: string) => client.post('/v1/messages', { company: 'acme', contract, kind: 'user', to: 'client@example.org', subject, text: 'hello' });
      expect((await send('main', 'plain send')).status).toBe(202);
      await smtp.waitFor(1, 15_000);
      expect((await send('oa', 'oauth send')).status).toBe(202); // refreshes the grant: OAuth state
      await waitFor(() => smtpOut.messages.length === 1, 15_000, 'OAuth2 send');
      oauth.revokeUser('sender');
      smtpOut.dropConnections();
      expect((await send('oa', 'while revoked')).status).toBe(202); // suspends the sender; stays in the outbox
      await waitFor(() => parts().suspensions.all().length === 1, 15_000, 'suspension');

      // The embedded store is the daemon's while it runs: the import refuses it.
      const busy = await cli('store', 'import', '--from', cfg.dataDir, '--config', pgDir);
      expect(busy.code).toBe(1);
      expect(busy.out).toMatch(/the embedded store at .* is in use .*stop the daemon that runs on it/);
    } finally {
      await daemon.stop();
    }

    // What the embedded store holds, through its port.
    const embedded = await openEmbeddedStores(cfg.dataDir);
    const deliveryIds = embedded.parts.webhooks.all().map((d) => d.id);
    const outboxIds = [...embedded.parts.outbox.entries()].map((e) => e.id);
    const mailboxes = ['desk', 'pop'];
    const before = await snapshotOf(embedded, mailboxes, deliveryIds, outboxIds);
    const key = embedded.parts.suspensions.key;
    await embedded.close();
    expect(before.tickets).toHaveLength(19);
    expect(before.tickets.find((t) => t.articles.length === 2)!.articles[1]!.subject).toBe('Re: Request 1');
    expect(before.tickets.some((t) => t.status === 'held')).toBe(true);
    expect(before.tickets.some((t) => t.articles[0]!.attachments.length === 1)).toBe(true);
    expect(before.dead).toHaveLength(1);
    expect(before.sync.desk).toMatchObject({ checkpoint: { uid: 15 } });
    expect((before.sync.pop as { uidls: string[] }).uidls).toHaveLength(5);
    expect(before.outbox.length).toBeGreaterThanOrEqual(3);
    expect(before.suspensions).toHaveLength(1);
    expect(Object.keys(before.oauth.grants)).toHaveLength(1);

    const first = await cli('store', 'import', '--from', cfg.dataDir, '--config', pgDir);
    expect(first.code, first.out).toBe(0);
    expect(first.out).not.toContain(pg.password);
    expect(first.out).toMatch(/^ {2}tickets +19 +0$/m);
    expect(first.out).toMatch(/^ {2}articles +20 +0$/m);
    expect(first.out).toMatch(/^ {2}suspensions +1 +0$/m);
    expect(first.out).toMatch(/^ {2}uidls +5 +0$/m);
    expect(first.out).toMatch(/fingerprint key: moved/);
    expect(first.out).toMatch(/ticket ids continue after: ACME-000019/);

    const loaded = await loadConfig(pgDir);
    const pgStores = await openStores(loaded.snapshot!.store);
    try {
      const after = await snapshotOf(pgStores, mailboxes, deliveryIds, outboxIds);
      expect(after.tickets).toEqual(before.tickets);
      expect([...after.blobs.keys()].sort()).toEqual([...before.blobs.keys()].sort());
      for (const [hash, bytes] of before.blobs) expect(after.blobs.get(hash)!.equals(bytes), hash).toBe(true);
      expect(after.sync).toEqual(before.sync);
      expect(after.deliveries).toEqual(before.deliveries);
      expect(after.dead).toEqual(before.dead);
      expect(after.outbox).toEqual(before.outbox);
      expect(after.suspensions).toEqual(before.suspensions);
      expect(after.oauth).toEqual(before.oauth);
      const [row] = await pg.query<{ key: Buffer }>(`SELECT key FROM mailroom.store_keys WHERE name = 'fingerprint'`, [], 'import_db');
      expect(row!.key.equals(key)).toBe(true);

      // Ticket ids continue after the highest imported one.
      const next = await pgStores.intake.commit(
        [{ article: { ...before.tickets[0]!.articles[0]!, dedupeKeys: ['imap:desk:99:1'], messageId: '<after-import@client.example>', inReplyTo: [], references: [] }, ticket: { company: 'acme', contract: 'main', status: 'open', prefix: 'ACME' } }],
        { mailbox: 'desk', epoch: 0 },
      );
      expect(next[0]!.ticketId).toBe('ACME-000020');
    } finally {
      await pgStores.close();
    }

    // Again: nothing moves, everything is already there.
    const second = await cli('store', 'import', '--from', cfg.dataDir, '--config', pgDir, '--format', 'json');
    expect(second.code, second.out).toBe(0);
    const report = JSON.parse(second.out) as { counts: Record<string, { moved: number; already: number }>; fingerprintKey: string };
    for (const [kind, n] of Object.entries(report.counts)) expect(n.moved, kind).toBe(0);
    expect(report.counts.tickets!.already).toBe(19);
    expect(report.counts.articles!.already).toBe(20);
    expect(report.counts.blobs!.already).toBe(before.blobs.size);
    expect(report.fingerprintKey).toBe('same');
    const [count] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM mailroom.tickets', [], 'import_db');
    expect(Number(count!.n)).toBe(20);
  }, 120_000);
});
