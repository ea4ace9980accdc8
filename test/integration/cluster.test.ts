// Several replicas on one PostgreSQL store and one Dovecot: every mailbox polled by exactly one
// replica at a time, spread over both, every message one ticket; a replica that stops hands its
// mailboxes over at once (SIGTERM path), and the survivor ingests what arrives in them afterwards.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import type { Stores } from '../../src/store/port.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { makeUsers } from '../support/inbound.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';

const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
const PER_BOX = 8;
const TOKEN = 'cluster-test-admin-token-0123456789';
let dovecot: Dovecot;
let pg: PostgresPeer;
let smtp: SmtpPeer;
let url: string;
beforeAll(async () => {
  [dovecot, pg, smtp] = await Promise.all([startDovecot({ users: makeUsers(USERS) }), startPostgres(), startSmtpServer()]);
  url = await pg.createDatabase('cluster');
}, 60_000);
afterAll(async () => {
  await Promise.all([dovecot?.destroy(), pg?.destroy(), smtp?.close()]);
});

async function configDir(): Promise<string> {
  const cfg = await writeTestConfig(dovecot, USERS.map((u) => ({ id: `box-${u}`, user: u, protocol: 'imap' as const, inbound: { afterFetch: 'delete' } })));
  // the same config, on the shared store
  const { parse } = await import('yaml');
  const { readFile } = await import('node:fs/promises');
  const doc = parse(await readFile(join(cfg.dir, 'mailroom.yaml'), 'utf8')) as Record<string, unknown>;
  doc.store = { driver: 'postgres', url, schema: 'mailroom' };
  doc.server = { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: TOKEN, companies: ['*'] }] };
  doc.defaults = { outbound: { host: '127.0.0.1', port: smtp.port, security: 'none', from: { address: 'noreply@platform.example' } } };
  await writeFile(join(cfg.dir, 'mailroom.yaml'), stringify(doc));
  return cfg.dir;
}

const replica = (dir: string, id: string) => new Daemon({ configPath: dir, logger: createLogger('warn'), parseWorkers: 0, replicaId: id, leaseTtlMs: 3_000, watch: false });

it('two replicas split the mailboxes, ingest each message once, and hand over on stop', async () => {
  for (const u of USERS) await dovecot.appendMany(u, Array.from({ length: PER_BOX }, (_, i) => message(i, { subject: `${u}-${i}` })));
  const dir = await configDir();
  const a = replica(dir, 'replica-a');
  const b = replica(dir, 'replica-b');
  let view: Stores | null = null;
  try {
    await a.start();
    await b.start();
    view = await openPostgresStores({ url, schema: 'mailroom' });
    const tickets = async () => (await view!.tickets.stats()).tickets;
    await waitFor(async () => (await tickets()) === USERS.length * PER_BOX, 30_000, `${USERS.length * PER_BOX} tickets`);
    // spread: after the rounds settle both replicas hold some, none held by both
    await waitFor(() => a.supervisor!.ownedMailboxes().length > 0 && b.supervisor!.ownedMailboxes().length > 0, 15_000, 'both replicas polling');
    const ownedA = new Set(a.supervisor!.ownedMailboxes());
    const ownedB = new Set(b.supervisor!.ownedMailboxes());
    expect([...ownedA].filter((m) => ownedB.has(m))).toEqual([]);
    expect(ownedA.size + ownedB.size).toBe(USERS.length);
    for (const u of USERS) expect(await dovecot.list(u, 'INBOX')).toHaveLength(0);
    // mailroom_mailbox_owned: every configured mailbox on each replica, 1 where it holds the lease
    const owned = async (d: Daemon) => {
      const text = await d.metrics.registry.metrics();
      return Object.fromEntries([...text.matchAll(/^mailroom_mailbox_owned\{mailbox="([^"]+)"\} (\d)$/gm)].map(([, m, v]) => [m!, Number(v)]));
    };
    const expectOwned = async (d: Daemon, held: Set<string>) =>
      expect(await owned(d)).toEqual(Object.fromEntries(USERS.map((u) => [`box-${u}`, held.has(`box-${u}`) ? 1 : 0])));
    await expectOwned(a, ownedA);
    await expectOwned(b, ownedB);
    // their webhook claims are told apart (replicas on one PostgreSQL may well share a pid: here they do)
    expect(a.webhooks!.owner).not.toBe(b.webhooks!.owner);
    // both on one config: one distinct hash among the members
    for (const d of [a, b]) expect(await d.metrics.registry.getSingleMetricAsString('mailroom_cluster_config_hashes')).toMatch(/^mailroom_cluster_config_hashes 1$/m);
    // A real fence refusal: the lease of one of A's mailboxes moves on (epoch + 1) just as A commits
    // there; the store refuses the commit, A counts it, learns it lost the lease, takes it anew and
    // ingests the message with the new epoch.
    const fencedBox = [...ownedA][0]!;
    const intake = a.stores!.intake;
    const commit = intake.commit.bind(intake);
    let bumped = false;
    intake.commit = async (items, fence) => {
      if (!bumped && fence.mailbox === fencedBox) {
        bumped = true;
        await pg.query('UPDATE mailroom.mailbox_leases SET epoch = epoch + 1 WHERE mailbox = $1', [fencedBox], 'cluster');
      }
      return commit(items, fence);
    };
    await dovecot.append(fencedBox.replace('box-', ''), message(50, { subject: `fenced-${fencedBox}` }));
    await waitFor(async () => (await tickets()) === USERS.length * PER_BOX + 1, 20_000, 'the message after the refusal');
    intake.commit = commit;
    expect(await a.metrics.registry.getSingleMetricAsString('mailroom_fence_refusals_total')).toContain(`mailroom_fence_refusals_total{mailbox="${fencedBox}"} 1`);
    // the lease row moved on while A still held it: A took it anew over a holding it never let go
    expect(await a.metrics.registry.getSingleMetricAsString('mailroom_lease_takeovers_total')).toMatch(/^mailroom_lease_takeovers_total 1$/m);
    expect(bumped).toBe(true);
    // Outbound through either replica: one replica holds the outbox lease and sends; each message once.
    const send = async (d: Daemon, n: number) => {
      const res = await fetch(`http://127.0.0.1:${d.http.address()!.port}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ company: 'acme', kind: 'user', to: [`client${n}@client.example`], subject: `out ${n}`, text: 'hello' }),
      });
      expect(res.status).toBe(202);
    };
    for (let n = 0; n < 6; n++) await send(n % 2 ? a : b, n);
    await smtp.waitFor(6, 20_000);
    await new Promise((r) => setTimeout(r, 1_500)); // a second sender would have sent by now
    expect(smtp.messages.map((m) => m.envelope.to[0]).sort()).toEqual(Array.from({ length: 6 }, (_, n) => `client${n}@client.example`).sort());
    // A stops (SIGTERM path): it gives its leases up, B takes them at once and ingests new mail there.
    const boxesOfA = [...ownedA];
    await a.stop();
    await waitFor(() => b.supervisor!.ownedMailboxes().length === USERS.length, 10_000, 'B polls every mailbox');
    // released leases, taken at once: acquisitions, not takeovers
    expect(await b.metrics.registry.getSingleMetricAsString('mailroom_lease_takeovers_total')).toMatch(/^mailroom_lease_takeovers_total 0$/m);
    const acquiredByB = Number(/^mailroom_lease_acquired_total (\d+)$/m.exec(await b.metrics.registry.getSingleMetricAsString('mailroom_lease_acquired_total'))?.[1]);
    expect(acquiredByB).toBeGreaterThanOrEqual(USERS.length);
    await expectOwned(b, new Set(USERS.map((u) => `box-${u}`)));
    const userOf = (box: string) => box.replace('box-', '');
    for (const box of boxesOfA) await dovecot.append(userOf(box), message(100, { subject: `late-${box}` }));
    await waitFor(async () => (await tickets()) === USERS.length * PER_BOX + 1 + boxesOfA.length, 20_000, 'the late messages');
    // exactly once: no Message-ID twice
    const page = await view.tickets.list({ companies: '*', limit: 500 });
    expect(page.items).toHaveLength(USERS.length * PER_BOX + 1 + boxesOfA.length);
    expect(new Set(page.items.map((t) => t.subject)).size).toBe(page.items.length);
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
    await view?.close();
  }
}, 120_000);

it('leases that change hands are announced: a joining replica gets its share, and a leaving one\'s mailboxes are polled again, without waiting for a lease round (TTL 15 s: rounds 5 s apart)', async () => {
  const dir = await configDir();
  const slow = (id: string) => new Daemon({ configPath: dir, logger: createLogger('warn'), parseWorkers: 0, replicaId: id, leaseTtlMs: 15_000, watch: false });
  const a = slow('slow-a');
  const b = slow('slow-b');
  try {
    await a.start();
    await waitFor(() => a.supervisor!.ownedMailboxes().length === USERS.length, 10_000, 'A alone polls every mailbox');
    // B joins: A is over its share (ceil(7 / 2) = 4 leases with the outbox's) and gives B the rest
    let t0 = Date.now();
    await b.start();
    await waitFor(() => b.supervisor!.ownedMailboxes().length >= USERS.length / 2 - 1 && a.supervisor!.ownedMailboxes().length + b.supervisor!.ownedMailboxes().length === USERS.length, 15_000, 'B holding its share');
    const joinMs = Date.now() - t0;
    // A leaves (SIGTERM path): B takes the released leases at once
    t0 = Date.now();
    await a.stop();
    await waitFor(() => b.supervisor!.ownedMailboxes().length === USERS.length, 15_000, 'B polls every mailbox');
    const leaveMs = Date.now() - t0;
    console.log(`lease announcements: B held its share ${joinMs} ms after its start began, every mailbox ${leaveMs} ms after A's stop began (rounds every 5,000 ms)`);
    // a round is 5 s apart: without the announcements each took up to one or two rounds
    expect(joinMs).toBeLessThan(2_500);
    expect(leaveMs).toBeLessThan(2_500);
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
  }
}, 60_000);
