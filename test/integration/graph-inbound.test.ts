// Issue 23, Microsoft Graph inbound, end to end through the real daemon: the Graph test peer
// (test/peers/graph.ts, a real HTTP server after Microsoft's reference) behind the real OAuth2 peer.
// N messages → N tickets exactly once over paged delta rounds; afterFetch move/seen/delete seen on the
// peer's state afterwards; `since` respected; an expired delta link → full resync without a duplicate;
// a throttling storm (every third request 429 with Retry-After) loses nothing, honours the wait and
// slows no other mailbox; at most 4 requests in flight per mailbox; revoked consent suspends the
// mailbox and notifies its company while the others go on.
import { ticketStoreOf } from '../support/store-of.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Daemon } from '../../src/daemon/daemon.js';
import { startGraphPeer, type GraphPeer } from '../peers/graph.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { message, waitFor } from '../support/daemon-config.js';
import { allTickets, duplicates, startTestDaemon, statusOf, ticketSummaries } from '../support/inbound.js';

const USERS = { move: 'move@acme.example', seen: 'seen@acme.example', del: 'del@acme.example', other: 'other@beta.example' };
const SECRET = 'graph-client-secret-PLANTED-9f8e';
let oauth: OAuthPeer;
let graph: GraphPeer;
let smtp: SmtpPeer;
let root: string;
let daemon: Daemon;
const logs: Record<string, unknown>[] = [];

const subjects = () => ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject);
const ticketsOf = async (mailbox: string) => (await allTickets(ticketStoreOf(daemon))).filter((t) => t.articles[0]!.mailbox === mailbox);

beforeAll(async () => {
  oauth = await startOAuthServer();
  [graph, smtp] = await Promise.all([startGraphPeer(oauth), startSmtpServer()]);
  root = await mkdtemp(join(tmpdir(), 'mailroom-graph-it-'));
  await mkdir(join(root, 'config'), { recursive: true });
  await writeFile(join(root, 'secret'), `${SECRET}\n`);
  const mailboxes: Record<string, unknown> = {};
  for (const [id, user] of Object.entries(USERS)) {
    oauth.addClient(`${id}-app`, SECRET, { user });
    graph.addMailbox(user);
    const afterFetch = id === 'move' ? { afterFetch: 'move', moveTo: 'Done/Processed' } : id === 'seen' || id === 'other' ? { afterFetch: 'seen' } : { afterFetch: 'delete' };
    mailboxes[id] = {
      provider: 'office365',
      apiUrl: graph.url,
      inbound: { protocol: 'graph', folder: 'inbox', pollInterval: '1s', batchSize: 5, ...afterFetch, ...(id === 'move' && { since: '2024-01-01' }) },
      auth: { user, oauth2: { flow: 'client_credentials', clientId: `${id}-app`, tenantId: 'contoso', tokenUrl: oauth.tokenUrl, clientSecretFile: join(root, 'secret') } },
    };
  }
  const config = {
    version: 1,
    server: { listen: '127.0.0.1:0' },
    store: { path: join(root, 'data') },
    defaults: { outbound: { host: '127.0.0.1', port: smtp.port, security: 'none', from: { name: 'Platform', address: 'noreply@platform.example' } } },
    companies: {
      acme: { notify: [{ address: 'it@acme.example', events: ['mailbox-suspended'] }], contracts: { main: { inbound: ['move', 'seen', 'del'] } } },
      beta: { contracts: { main: { inbound: ['other'] } } },
    },
    mailboxes,
  };
  await writeFile(join(root, 'config', 'mailroom.yaml'), stringify(config));
  // Before `since`: never read. Then 23 (5 pages of at most 5).
  graph.deliver(USERS.move, message(0, { subject: 'move old' }), { receivedDateTime: '2023-06-01T10:00:00Z' });
  for (let i = 1; i <= 23; i++) graph.deliver(USERS.move, message(i, { subject: `move ${i}` }));
  for (let i = 1; i <= 3; i++) graph.deliver(USERS.seen, message(i, { subject: `seen ${i}` }));
  for (let i = 1; i <= 2; i++) graph.deliver(USERS.del, message(i, { subject: `del ${i}` }));
  daemon = await startTestDaemon(join(root, 'config'), { logLines: logs, logLevel: 'debug' });
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([graph?.close(), oauth?.close(), smtp?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('Microsoft Graph inbound', () => {
  it('N messages → N tickets exactly once over paged delta rounds; move, seen and delete done on the peer; since respected', async () => {
    await waitFor(() => subjects().filter((s) => s.startsWith('move ')).length >= 23 && subjects().filter((s) => s.startsWith('seen ')).length >= 3 && subjects().filter((s) => s.startsWith('del ')).length >= 2, 20_000, 'all tickets');
    await waitFor(() => graph.messages(USERS.move, 'inbox').length === 1, 10_000, 'moved out of the inbox');
    expect(duplicates(subjects())).toEqual([]);
    expect(subjects()).not.toContain('move old');
    expect(graph.messages(USERS.move, 'inbox').map((m) => m.raw.toString())).toEqual([expect.stringContaining('Subject: move old')]);
    const processed = graph.folder(USERS.move, 'Processed');
    expect(processed?.parentFolderId).toBe(graph.folder(USERS.move, 'Done')?.id);
    expect(graph.messages(USERS.move, processed!.id)).toHaveLength(23);
    await waitFor(() => graph.messages(USERS.seen, 'inbox').every((m) => m.isRead), 10_000, 'seen');
    await waitFor(() => graph.messages(USERS.del, 'deleteditems').length === 2, 10_000, 'deleted');
    expect(graph.messages(USERS.del, 'inbox')).toEqual([]);
    // paged (maxpagesize = batchSize 5), immutable ids asked for, delta links kept, $value fetched
    const moveReqs = graph.requests.filter((r) => r.mailbox === USERS.move);
    expect(moveReqs.filter((r) => r.path.includes('$skiptoken')).length).toBeGreaterThanOrEqual(4);
    expect(moveReqs.filter((r) => r.path.includes('/messages/delta')).every((r) => /IdType="ImmutableId"/.test(r.prefer ?? '') && /odata\.maxpagesize=5/.test(r.prefer ?? ''))).toBe(true);
    expect(moveReqs.filter((r) => r.path.endsWith('/$value'))).toHaveLength(23);
    // the ticket keeps the MIME as fetched and the dedupe key names the immutable id
    const t = (await ticketsOf('move'))[0]!;
    expect(t.articles[0]!.dedupeKeys[0]).toMatch(/^graph:move:AAMkAD/);
    expect(statusOf(daemon, 'move').checkpoint).toEqual({ folder: 'inbox', cursor: true });
    expect(Math.max(...graph.maxInFlight.values())).toBeLessThanOrEqual(4);
  });

  it('new mail arrives through the delta link (no full read of the folder)', async () => {
    const before = graph.requests.length;
    graph.deliver(USERS.seen, message(4, { subject: 'seen 4' }));
    await waitFor(() => subjects().includes('seen 4'), 10_000, 'seen 4');
    const later = graph.requests.slice(before).filter((r) => r.mailbox === USERS.seen && r.path.includes('/messages/delta'));
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((r) => r.path.includes('$deltatoken') || r.path.includes('$skiptoken'))).toBe(true);
    // our own isRead change comes back as an update: known, not fetched again
    expect(graph.requests.slice(before).filter((r) => r.mailbox === USERS.seen && r.path.endsWith('/$value'))).toHaveLength(1);
  });

  it('an expired delta link (410) → a full resync of the folder that creates no ticket twice', async () => {
    graph.expireSyncState();
    graph.deliver(USERS.seen, message(5, { subject: 'seen 5' }));
    await waitFor(() => subjects().includes('seen 5'), 15_000, 'seen 5');
    expect(graph.requests.some((r) => r.mailbox === USERS.seen && r.status === 410)).toBe(true);
    const seen = await ticketsOf('seen');
    expect(seen.map((t) => t.subject).sort()).toEqual(['seen 1', 'seen 2', 'seen 3', 'seen 4', 'seen 5']);
    expect(logs.some((l) => l.msg === 'graph delta state expired: full resync of the folder' && l.mailbox === 'seen')).toBe(true);
  });

  it('a throttling storm (every third request 429, Retry-After 1 s): nothing lost, the wait honoured, another mailbox not slowed', async () => {
    graph.throttle({ every: 3, retryAfter: 1, mailbox: USERS.move });
    const from = graph.requests.length;
    try {
      for (let i = 24; i <= 31; i++) graph.deliver(USERS.move, message(i, { subject: `move ${i}` }));
      const t0 = Date.now();
      graph.deliver(USERS.other, message(1, { subject: 'other 1' }));
      await waitFor(() => subjects().includes('other 1'), 5_000, 'other 1');
      expect(Date.now() - t0).toBeLessThan(3_000);
      await waitFor(() => subjects().filter((s) => s.startsWith('move ')).length === 31, 40_000, 'move 24..31');
    } finally {
      graph.throttle(null);
    }
    expect(duplicates(subjects())).toEqual([]);
    // after each 429 the mailbox sent nothing until Retry-After had passed (the requests already
    // on their way when it was answered aside)
    const reqs = graph.requests.slice(from).filter((r) => r.mailbox === USERS.move);
    const throttled = reqs.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(2);
    for (const r of throttled) expect(reqs.filter((x) => x.at > r.at + 100 && x.at < r.at + 950)).toEqual([]);
    expect(statusOf(daemon, 'other').lastError).toBeNull();
  });

  it('revoked consent: the mailbox is suspended and its company notified; the others go on', async () => {
    oauth.revokeUser(USERS.del);
    graph.deliver(USERS.del, message(3, { subject: 'del 3' }));
    await waitFor(() => statusOf(daemon, 'del').state === 'suspended', 20_000, 'del suspended');
    expect((statusOf(daemon, 'del') as { suspendedReason?: string }).suspendedReason).toMatch(/AADSTS50173/);
    const notice = await smtp.waitFor(1, 10_000);
    expect(notice[0]!.raw.toString()).toMatch(/del/);
    graph.deliver(USERS.seen, message(6, { subject: 'seen 6' }));
    await waitFor(() => subjects().includes('seen 6'), 10_000, 'seen 6');
    expect(subjects()).not.toContain('del 3');
    // no secret nor token in the logs
    const text = JSON.stringify(logs);
    expect(text).not.toContain(SECRET);
    for (const t of oauth.issued.keys()) expect(text).not.toContain(t);
  });
});
