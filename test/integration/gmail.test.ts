// Issue 23, the Gmail API as a mailbox's transport, end to end through the real daemon: the Gmail test
// peer (test/peers/gmail.ts, a real HTTP server after Google's reference) behind the real OAuth2 peer
// (refresh_token flow, as Google Workspace delegated access). N messages → N tickets exactly once
// (first sync: messages.list paged; then users.history); afterFetch move (label added, INBOX removed),
// seen (UNREAD removed) and delete (trash) seen on the peer; `since` respected; a history id Gmail no
// longer has (404) → full resync without duplicates; messages.send gets the outbox's MIME; revoked
// consent suspends the mailbox while the others go on.
import { ticketStoreOf } from '../support/store-of.js';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Daemon } from '../../src/daemon/daemon.js';
import { startGmailPeer, type GmailPeer } from '../peers/gmail.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { message, waitFor } from '../support/daemon-config.js';
import { allTickets, duplicates, startTestDaemon, statusOf, ticketSummaries } from '../support/inbound.js';
import { runTestMailbox, stepRow } from '../support/test-mailbox.js';
import { api, parse, rawHeader } from './outbound-support.js';

const USERS = { gmove: 'move@acme.example', gseen: 'seen@acme.example', gdel: 'del@acme.example' };
const SA_USER = 'desk@acme.example';
const SA_EMAIL = 'mailroom@acme-project.iam.gserviceaccount.com';
const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const SECRET = 'gmail-client-secret-PLANTED-31c4';
const OPS = 'ops-token-0123456789abcdef';
let oauth: OAuthPeer;
let gmail: GmailPeer;
let smtp: SmtpPeer;
let root: string;
let daemon: Daemon;
const logs: Record<string, unknown>[] = [];

const subjects = () => ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject);

beforeAll(async () => {
  oauth = await startOAuthServer();
  [gmail, smtp] = await Promise.all([startGmailPeer(oauth), startSmtpServer()]);
  root = await mkdtemp(join(tmpdir(), 'mailroom-gmail-it-'));
  await mkdir(join(root, 'config'), { recursive: true });
  oauth.addClient('gmail-app', SECRET, { rotate: false });
  const mailboxes: Record<string, unknown> = {};
  for (const [id, user] of Object.entries(USERS)) {
    gmail.addMailbox(user);
    const rt = oauth.grant('gmail-app', user);
    const afterFetch = id === 'gmove' ? { afterFetch: 'move', moveTo: 'Processed', since: '2024-01-01' } : id === 'gseen' ? { afterFetch: 'seen' } : { afterFetch: 'delete' };
    mailboxes[id] = {
      provider: 'gmail',
      apiUrl: gmail.url,
      address: user,
      inbound: { protocol: 'gmail', pollInterval: '1s', batchSize: 4, ...afterFetch },
      ...(id === 'gmove' && { outbound: { transport: 'gmail', from: { name: 'ACME', address: user } } }),
      auth: { user, oauth2: { flow: 'refresh_token', clientId: 'gmail-app', tokenUrl: oauth.tokenUrl, clientSecret: SECRET, refreshToken: rt } },
    };
  }
  // Google Workspace: a service account with domain-wide delegation reads SA_USER's mailbox.
  gmail.addMailbox(SA_USER);
  oauth.addServiceAccount(SA_EMAIL, keys.publicKey, [SA_USER]);
  await writeFile(join(root, 'sa-key.json'), JSON.stringify({ type: 'service_account', project_id: 'acme-project', private_key_id: 'k1', private_key: keys.privateKey, client_email: SA_EMAIL, client_id: '1234567890', token_uri: oauth.serviceAccountTokenUrl }));
  mailboxes.gsa = {
    provider: 'gmail',
    apiUrl: gmail.url,
    inbound: { protocol: 'gmail', pollInterval: '1s', afterFetch: 'seen' },
    auth: { user: SA_USER, oauth2: { flow: 'service_account', clientId: '1234567890', tokenUrl: oauth.serviceAccountTokenUrl, serviceAccountKeyFile: join(root, 'sa-key.json') } },
  };
  await writeFile(
    join(root, 'config', 'mailroom.yaml'),
    stringify({
      version: 1,
      server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: OPS, companies: ['*'] }] },
      store: { path: join(root, 'data') },
      defaults: { outbound: { host: '127.0.0.1', port: smtp.port, security: 'none', from: { name: 'Platform', address: 'noreply@platform.example' } } },
      companies: { acme: { notify: [{ address: 'it@acme.example', events: ['mailbox-suspended'] }], contracts: { main: { inbound: [...Object.keys(USERS), 'gsa'], outbound: 'gmove' } } } },
      mailboxes,
    }),
  );
  gmail.deliver(USERS.gmove, message(0, { subject: 'gmove old' }), { internalDate: Date.UTC(2023, 5, 1) });
  for (let i = 1; i <= 10; i++) gmail.deliver(USERS.gmove, message(i, { subject: `gmove ${i}` }));
  for (let i = 1; i <= 3; i++) gmail.deliver(USERS.gseen, message(i, { subject: `gseen ${i}` }));
  for (let i = 1; i <= 2; i++) gmail.deliver(USERS.gdel, message(i, { subject: `gdel ${i}` }));
  for (let i = 1; i <= 2; i++) gmail.deliver(SA_USER, message(i, { subject: `gsa ${i}` }));
  daemon = await startTestDaemon(join(root, 'config'), { logLines: logs, logLevel: 'debug' });
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([gmail?.close(), oauth?.close(), smtp?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('Gmail API mailboxes', () => {
  it('N messages → N tickets exactly once; move, seen and trash on the peer; since respected', async () => {
    await waitFor(() => subjects().filter((s) => /^g(move|seen|del) /.test(s)).length >= 15, 20_000, 'all tickets').catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(subjects())} ${JSON.stringify(logs.filter((l) => (l.level as number) >= 40).slice(0, 5))}`);
    });
    await waitFor(() => gmail.messages(USERS.gmove, 'INBOX').length === 1 && gmail.messages(USERS.gdel, 'TRASH').length === 2 && gmail.messages(USERS.gseen, 'UNREAD').length === 0, 10_000, 'server actions');
    expect(duplicates(subjects())).toEqual([]);
    expect(subjects()).not.toContain('gmove old');
    const processed = gmail.labelId(USERS.gmove, 'Processed')!;
    expect(gmail.messages(USERS.gmove, processed)).toHaveLength(10);
    expect(gmail.messages(USERS.gmove, processed).every((m) => !m.labelIds.has('INBOX'))).toBe(true);
    expect(gmail.messages(USERS.gdel, 'INBOX')).toEqual([]);
    // listed in pages of batchSize with after: for since, fetched as raw
    const moveReqs = gmail.requests.filter((r) => r.user === USERS.gmove);
    expect(moveReqs.filter((r) => r.path.includes('/messages?') && r.path.includes('pageToken=')).length).toBeGreaterThanOrEqual(2);
    expect(moveReqs.find((r) => r.path.includes('/messages?'))!.path).toContain(`q=${encodeURIComponent('after:2024/01/01')}`);
    expect(moveReqs.filter((r) => r.path.includes('format=raw'))).toHaveLength(10);
    const t = (await allTickets(ticketStoreOf(daemon))).find((x) => x.subject === 'gmove 1')!;
    expect(t.articles[0]!.dedupeKeys[0]).toMatch(/^gmail:gmove:[0-9a-f]+$/);
  });

  it('new mail arrives through users.history from the committed history id', async () => {
    const before = gmail.requests.length;
    gmail.deliver(USERS.gseen, message(4, { subject: 'gseen 4' }));
    await waitFor(() => subjects().includes('gseen 4'), 10_000, 'gseen 4');
    const later = gmail.requests.slice(before).filter((r) => r.user === USERS.gseen);
    expect(later.some((r) => r.path.includes('/history?') && r.path.includes('startHistoryId='))).toBe(true);
    expect(later.some((r) => r.path.includes('/messages?'))).toBe(false);
  });

  it('a history id Gmail no longer has (404) → a full resync that creates no ticket twice', async () => {
    gmail.expireHistory();
    gmail.deliver(USERS.gseen, message(5, { subject: 'gseen 5' }));
    await waitFor(() => subjects().includes('gseen 5'), 15_000, 'gseen 5');
    expect(gmail.requests.some((r) => r.user === USERS.gseen && r.status === 404 && r.path.includes('/history'))).toBe(true);
    expect(subjects().filter((s) => s.startsWith('gseen ')).sort()).toEqual(['gseen 1', 'gseen 2', 'gseen 3', 'gseen 4', 'gseen 5']);
    expect(logs.some((l) => l.msg === 'gmail history id expired: full resync of the label')).toBe(true);
  });

  it('outbound.transport gmail: messages.send gets the outbox\'s MIME (Bcc named for Gmail); sent', async () => {
    const a = api(`http://127.0.0.1:${daemon.http.address()!.port}`, OPS);
    const r = await a.post('/v1/messages', { company: 'acme', contract: 'main', kind: 'user', from: { address: 'ana@acme.example' }, to: 'cliente@client.example', bcc: ['audit@acme.example'], subject: 'Via Gmail', text: 'Olá' });
    expect(r.status).toBe(202);
    const s = await waitFor(async () => {
      const m = await a.get(`/v1/messages/${r.body.id}`);
      return m.body.status === 'sent' ? m.body : null;
    }, 10_000, 'sent');
    expect(s.response).toMatch(/^200 OK \(Gmail messages.send id [0-9a-f]+\)$/);
    const sent = gmail.sent.at(-1)!;
    expect([sent.user, sent.via]).toEqual([USERS.gmove, 'json']);
    expect(rawHeader(sent.raw, 'Bcc')).toBe('audit@acme.example');
    expect(rawHeader(sent.raw, 'Message-ID')).toBe(`<${r.body.messageId}>`);
    expect((await parse(sent.raw)).text?.trim()).toBe('Olá');
  });

  it('a service account with domain-wide delegation: a JWT bearer grant signed with its key, sub = the mailbox', async () => {
    await waitFor(() => subjects().includes('gsa 1') && subjects().includes('gsa 2'), 15_000, 'gsa tickets');
    await waitFor(() => gmail.messages(SA_USER, 'UNREAD').length === 0, 10_000, 'gsa seen');
    const grants = oauth.requests.filter((r) => r.client_id === SA_EMAIL);
    expect(grants.length).toBeGreaterThan(0);
    expect(grants.every((r) => r.grant_type === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && r.status === 200 && r.scope === 'https://www.googleapis.com/auth/gmail.modify')).toBe(true);
    const text = JSON.stringify(logs);
    expect(text).not.toContain(keys.privateKey.split('\n')[1]!);
  });

  it('test-mailbox: the service account\'s token, the profile, the label, and the API as the sending side', async () => {
    const secrets = () => [SECRET, keys.privateKey.split('\n')[1]!, ...oauth.issued.keys()];
    const ok = await runTestMailbox(join(root, 'config'), ['gsa'], secrets);
    expect(ok.code, ok.out).toBe(0);
    expect(stepRow(ok.out, 'auth')).toMatch(/ok\s+auth\s+Gmail accepted the token for desk@acme.example/);
    expect(stepRow(ok.out, 'folder')).toMatch(/ok\s+folder\s+label INBOX \(INBOX\)/);
    expect(ok.out).toContain('service_account: a token was fetched, no state used');
    // read through the Gmail API and no outbound side given: it sends through the API too, not smtp.gmail.com
    expect(ok.out).toContain(`outbound: gmail ${gmail.url}`);
  });

  it('revoked consent: the mailbox is suspended and its company notified; the others go on', async () => {
    oauth.revokeUser(USERS.gdel);
    gmail.deliver(USERS.gdel, message(3, { subject: 'gdel 3' }));
    await waitFor(() => statusOf(daemon, 'gdel').state === 'suspended', 20_000, 'gdel suspended');
    const [n] = await smtp.waitFor(1, 10_000);
    expect(n!.raw.toString()).toMatch(/gdel/);
    gmail.deliver(USERS.gseen, message(6, { subject: 'gseen 6' }));
    await waitFor(() => subjects().includes('gseen 6'), 10_000, 'gseen 6');
    const text = JSON.stringify(logs);
    expect(text).not.toContain(SECRET);
    for (const t of oauth.issued.keys()) expect(text).not.toContain(t);
  });
});
