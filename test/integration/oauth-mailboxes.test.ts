// Issue 8, "Done means", end to end with real local servers: a real OAuth2 server on loopback
// (oauth2-mock-server, test/peers/oauth.ts) issues tokens for both flows; a real Dovecot
// authenticates IMAP and POP3 with its oauth2 passdb (XOAUTH2 only, like Microsoft 365), asking an
// introspection endpoint of the token server; SMTP XOAUTH2 goes to smtp-server whose onAuth checks
// the token. Then: tokens expiring mid-run are refreshed with no ingest gap; a rotated refresh
// token is persisted under <store>/oauth/ and used after a restart; a revoked grant suspends its
// mailbox (status, metric, notification through the global default) while the others go on; a
// login the server keeps refusing suspends too; the suspension survives a restart; a credentials
// change in config, or POST /v1/mailboxes/:id/resume, resumes. The early warning shows up in status
// and metrics. Planted secrets and every token issued never appear in logs, status or metrics.
import { ticketStoreOf } from '../support/store-of.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startOAuthSmtpServer, type OAuthSmtpPeer } from '../peers/oauth-smtp.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { message, waitFor } from '../support/daemon-config.js';
import { makeUsers, stopDovecotHard, ticketSummaries } from '../support/inbound.js';

const ADMIN = 'admin-token-PLANTED-0123456789';
const ACME_TOKEN = 'acme-token-PLANTED-0123456789';
const OTHER_TOKEN = 'other-token-PLANTED-0123456789';
const SECRETS = {
  m365: 'm365-client-secret-PLANTED-a1',
  gmail: 'gmail-client-secret-PLANTED-b2',
  deleg: 'deleg-client-secret-PLANTED-c3',
  wrongapp: 'wrongapp-client-secret-PLANTED-d4',
  warn: 'warn-client-secret-PLANTED-e5',
};
const IN_5_DAYS = new Date(Date.now() + 5 * 86_400_000 + 3_600_000).toISOString().slice(0, 10);

let oauth: OAuthPeer;
let dovecot: Dovecot;
let smtpOut: OAuthSmtpPeer;
let notifySmtp: SmtpPeer;
let root: string;
let configDir: string;
let dataDir: string;
let secretsDir: string;
const logs: string[] = [];
const initialTokens: Record<string, string> = {};
let daemon: Daemon;

const users = ['m365', 'gmail', 'deleg', 'revoked', 'wrongapp', 'warn', 'pw'];

async function secretFile(name: string, value: string): Promise<string> {
  const f = join(secretsDir, name);
  await writeFile(f, `${value}\n`);
  return f;
}

/** The whole config; `over` replaces mailboxes' auth (credentials changed in config). */
async function writeConfig(over: Record<string, unknown> = {}): Promise<void> {
  const imap = (user: string) => ({ protocol: 'imap', host: '127.0.0.1', port: dovecot.ports.imaps, security: 'tls', caFile: dovecot.caFile, pollInterval: '1s' });
  const pop = { protocol: 'pop3', host: '127.0.0.1', port: dovecot.ports.pop3s, security: 'tls', caFile: dovecot.caFile, pollInterval: '1s' };
  const oa = (clientId: string, extra: Record<string, unknown>) => ({ clientId, tokenUrl: oauth.tokenUrl, ...extra });
  const mailboxes: Record<string, unknown> = {
    // Microsoft 365 app-only: client_credentials, IMAP, and SMTP XOAUTH2 on its outbound side.
    m365: {
      address: 'm365@acme.example',
      inbound: imap('m365'),
      outbound: { host: '127.0.0.1', port: smtpOut.port, security: 'none', from: { name: 'ACME', address: 'm365@acme.example' } },
      auth: { user: 'm365', oauth2: oa('m365-app', { flow: 'client_credentials', tenantId: 'contoso', clientSecretFile: join(secretsDir, 'm365'), scope: 'https://outlook.office365.com/.default' }) },
    },
    // Google: refresh_token, POP3, no rotation.
    gmail: { inbound: pop, auth: { user: 'gmail', oauth2: oa('gmail-app', { flow: 'refresh_token', clientSecretFile: join(secretsDir, 'gmail'), refreshTokenFile: join(secretsDir, 'gmail-rt'), scope: 'https://mail.google.com/' }) } },
    // Microsoft delegated: refresh_token, IMAP, rotation.
    deleg: { inbound: imap('deleg'), auth: { user: 'deleg', oauth2: oa('deleg-app', { flow: 'refresh_token', clientSecretFile: join(secretsDir, 'deleg'), refreshTokenFile: join(secretsDir, 'deleg-rt') }) } },
    // Will be revoked at the provider.
    revoked: { inbound: imap('revoked'), auth: { user: 'revoked', oauth2: oa('deleg-app', { flow: 'refresh_token', clientSecretFile: join(secretsDir, 'deleg'), refreshTokenFile: join(secretsDir, 'revoked-rt') }) } },
    // Tokens are issued, but for another user: Dovecot refuses every login.
    wrongapp: { inbound: imap('wrongapp'), auth: { user: 'wrongapp', oauth2: oa('wrong-app', { flow: 'client_credentials', clientSecretFile: join(secretsDir, 'wrongapp'), scope: 'x' }) } },
    // Client secret expiring in 5 days: early warning.
    warn: { inbound: pop, auth: { user: 'warn', oauth2: oa('warn-app', { flow: 'client_credentials', clientSecretFile: join(secretsDir, 'warn'), clientSecretExpires: IN_5_DAYS, scope: 'x' }) } },
    // A password mailbox: unaffected by everything above.
    pw: { inbound: imap('pw'), auth: { user: 'pw', passwordFile: await secretFile('pw', 'secret-pw') } },
  };
  for (const [id, auth] of Object.entries(over)) (mailboxes[id] as Record<string, unknown>).auth = auth;
  const config = {
    version: 1,
    server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'admin', token: ADMIN, companies: ['*'] }, { name: 'acme', token: ACME_TOKEN, companies: ['acme'] }, { name: 'other', token: OTHER_TOKEN, companies: ['other'] }] },
    store: { path: dataDir },
    defaults: { outbound: { host: '127.0.0.1', port: notifySmtp.port, security: 'none', from: { name: 'Platform', address: 'noreply@platform.example' } } },
    companies: {
      acme: { notify: [{ address: 'it@acme.example', events: ['mailbox-suspended', 'credential-expiring'] }], contracts: { main: { inbound: ['m365', 'gmail', 'deleg', 'revoked', 'wrongapp', 'warn'], outbound: 'm365' } } },
      other: { notify: [{ address: 'it@other.example' }], contracts: { main: { inbound: ['pw'] } } },
    },
    mailboxes,
  };
  await writeFile(join(configDir, 'mailroom.yaml'), stringify(config));
}

async function start(): Promise<Daemon> {
  const d = new Daemon({
    configPath: configDir,
    logger: createLogger('debug', { write: (l: string) => void logs.push(l) }),
    parseWorkers: 0,
    watch: false,
    pollerOptions: { backoff: { baseMs: 100, maxMs: 500 } },
    suspension: { authFailureThreshold: 3, recheckMs: 300 },
    outbox: { initialBackoffMs: 100, maxBackoffMs: 500, laneBackoffMs: 50, stopTimeoutMs: 1000 },
  });
  await d.start();
  return d;
}

const status = (d: Daemon, id: string) => d.supervisor!.statuses().find((s) => s.mailbox === id) as Record<string, any>;
const subjects = (d: Daemon) => ticketSummaries(ticketStoreOf(d)).map((t) => t.subject);
async function ingested(d: Daemon, subject: string, timeoutMs = 15_000) {
  await waitFor(() => subjects(d).includes(subject), timeoutMs, `ticket "${subject}"`);
}
async function http(d: Daemon, method: string, path: string, token: string) {
  const res = await fetch(`http://127.0.0.1:${d.http.address()!.port}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

beforeAll(async () => {
  oauth = await startOAuthServer({ rotate: false });
  [dovecot, smtpOut, notifySmtp] = await Promise.all([
    startDovecot({ users: makeUsers(users), oauth2: { introspectionUrl: oauth.introspectionUrl, mechanisms: ['xoauth2'] } }),
    startOAuthSmtpServer(oauth),
    startSmtpServer(),
  ]);
  root = await mkdtemp(join(tmpdir(), 'mailroom-oauth-it-'));
  configDir = join(root, 'config');
  dataDir = join(root, 'data');
  secretsDir = join(root, 'secrets');
  await Promise.all([configDir, secretsDir].map((d) => import('node:fs/promises').then((fs) => fs.mkdir(d, { recursive: true }))));
  oauth.addClient('m365-app', SECRETS.m365, { user: 'm365' });
  oauth.addClient('gmail-app', SECRETS.gmail, { rotate: false });
  oauth.addClient('deleg-app', SECRETS.deleg, { rotate: true });
  oauth.addClient('wrong-app', SECRETS.wrongapp, { user: 'somebody-else' });
  oauth.addClient('warn-app', SECRETS.warn, { user: 'warn' });
  initialTokens.gmail = oauth.grant('gmail-app', 'gmail');
  initialTokens.deleg = oauth.grant('deleg-app', 'deleg');
  initialTokens.revoked = oauth.grant('deleg-app', 'revoked');
  for (const [k, v] of Object.entries(SECRETS)) await secretFile(k, v);
  await secretFile('gmail-rt', initialTokens.gmail);
  await secretFile('deleg-rt', initialTokens.deleg);
  await secretFile('revoked-rt', initialTokens.revoked);
  await writeConfig();
  for (const u of users) await dovecot.append(u, message(0, { subject: `${u} first` }));
  daemon = await start();
});

afterAll(async () => {
  await daemon?.stop();
  if (process.env.OAUTH_IT_LOG) await writeFile(process.env.OAUTH_IT_LOG, logs.join(''));
  await Promise.all([dovecot?.destroy(), smtpOut?.close(), notifySmtp?.close(), oauth?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('OAuth2 end to end', () => {
  it('both flows: IMAP and POP3 log in with XOAUTH2 through Dovecot oauth2 passdb, SMTP with XOAUTH2 checked by onAuth', async () => {
    for (const u of ['m365', 'gmail', 'deleg', 'revoked', 'warn', 'pw']) await ingested(daemon, `${u} first`);
    const log = await readFile(dovecot.logFile, 'utf8');
    for (const u of ['m365', 'gmail', 'deleg', 'warn']) expect(log).toMatch(new RegExp(`Login: user=<${u}>, method=XOAUTH2`));
    expect(log).toMatch(/pop3-login: Info: Login: user=<gmail>, method=XOAUTH2/);
    expect(log).toMatch(/Login: user=<pw>, method=PLAIN/);
    const grants = new Set(oauth.requests.map((r) => `${r.client_id}:${r.grant_type}`));
    expect(grants).toEqual(new Set(['m365-app:client_credentials', 'gmail-app:refresh_token', 'deleg-app:refresh_token', 'wrong-app:client_credentials', 'warn-app:client_credentials']));
    expect(oauth.requests.find((r) => r.client_id === 'm365-app')?.scope).toBe('https://outlook.office365.com/.default');
    expect(oauth.introspections).toBeGreaterThan(0);

    const r = await fetch(`http://127.0.0.1:${daemon.http.address()!.port}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ company: 'acme', contract: 'main', kind: 'user', from: { address: 'agent@acme.example' }, to: 'client@example.org', subject: 'Sent with XOAUTH2', text: 'hello' }),
    });
    expect(r.status).toBe(202);
    const [m] = await smtpOut.waitFor(1);
    expect(m!.user).toBe('m365');
    expect(m!.raw.toString()).toContain('Subject: Sent with XOAUTH2');
    expect(smtpOut.logins.every((l) => l.method === 'XOAUTH2' && l.ok)).toBe(true);
  });

  it('access tokens expiring mid-run are refreshed ahead: no failed login, no ingest gap', async () => {
    oauth.ttl = 4;
    try {
      const before = oauth.requests.filter((r) => r.client_id === 'gmail-app').length;
      // Tokens issued from now on live 4 s; POP3 logs in on every poll (1 s), IMAP keeps its connection.
      daemon.oauth!.invalidate('gmail');
      const t0 = Date.now();
      for (let i = 1; i <= 8; i++) {
        await dovecot.append('gmail', message(i, { subject: `gmail run ${i}` }));
        await new Promise((r) => setTimeout(r, 1000));
      }
      for (let i = 1; i <= 8; i++) await ingested(daemon, `gmail run ${i}`, 5000);
      const after = oauth.requests.filter((r) => r.client_id === 'gmail-app');
      expect(after.length - before).toBeGreaterThanOrEqual(2); // refreshed during the run
      expect(after.every((r) => r.status === 200)).toBe(true);
      const s = status(daemon, 'gmail');
      expect(s.lastError).toBeNull();
      expect(s.consecutiveFailures).toBe(0);
      const metrics = await daemon.metrics.registry.metrics();
      // every class exported at 0 from the start: none counted
      expect(metrics).toMatch(/mailroom_ingest_errors_total\{mailbox="gmail",class="auth"\} 0\n/);
      expect(metrics).not.toMatch(/mailroom_ingest_errors_total\{mailbox="gmail",[^}]*\} [1-9]/);
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      oauth.ttl = 3600;
    }
  });

  it('a rotated refresh token is persisted in mailroom state, never in the config', async () => {
    const current = oauth.refreshTokens('deleg');
    expect(current).toHaveLength(1);
    expect(current[0]).not.toBe(initialTokens.deleg);
    const state = await readFile(join(dataDir, 'oauth', 'deleg.json'), 'utf8');
    expect(state).toContain(current[0]!);
    expect(await readFile(join(secretsDir, 'deleg-rt'), 'utf8')).toBe(`${initialTokens.deleg}\n`);
    expect(await readFile(join(configDir, 'mailroom.yaml'), 'utf8')).not.toContain(current[0]!);
  });

  it('a revoked grant suspends its mailbox (status, metric, notification); a login refused N times too; the others go on', async () => {
    oauth.revokeUser('revoked');
    // the mailbox is connected: end every session so the next connection needs a token again
    await stopDovecotHard(dovecot);
    await dovecot.restart();
    await waitFor(() => status(daemon, 'revoked')?.state === 'suspended', 20_000, 'revoked suspended');
    const s = status(daemon, 'revoked');
    expect(s.suspension).toMatchObject({ source: 'token-endpoint', code: 'AADSTS50173', error: 'invalid_grant' });
    expect(s.suspendedReason).toMatch(/AADSTS50173/);
    await waitFor(() => status(daemon, 'wrongapp')?.state === 'suspended', 20_000, 'wrongapp suspended');
    expect(status(daemon, 'wrongapp').suspension).toMatchObject({ source: 'server', code: 'AUTHENTICATIONFAILED' });
    expect(status(daemon, 'wrongapp').suspendedReason).toMatch(/3 times in a row/);

    const metrics = await daemon.metrics.registry.metrics();
    expect(metrics).toContain('mailroom_mailbox_suspended{mailbox="revoked",company="acme"} 1');
    expect(metrics).toContain('mailroom_mailbox_suspended{mailbox="wrongapp",company="acme"} 1');

    const notes = await waitFor(() => {
      const n = notifySmtp.messages.filter((m) => /suspended/.test(m.raw.toString()));
      return n.length >= 2 ? n : null;
    }, 15_000, 'two mailbox-suspended notifications');
    const revokedNote = notes.find((m) => m.raw.toString().includes('Mailbox revoked suspended'))!;
    expect(revokedNote.envelope.to).toEqual(['it@acme.example']);
    expect(revokedNote.raw.toString()).toContain('AADSTS50173');
    expect(revokedNote.raw.toString()).toMatch(/^Auto-Submitted: auto-generated/m);

    // the others go on
    const tokenRequests = oauth.requests.length;
    for (const u of ['m365', 'gmail', 'deleg', 'pw']) await dovecot.append(u, message(20, { subject: `${u} after suspension` }));
    for (const u of ['m365', 'gmail', 'deleg', 'pw']) await ingested(daemon, `${u} after suspension`);
    // a suspended mailbox does not hammer the token endpoint
    await new Promise((r) => setTimeout(r, 1000));
    expect(oauth.requests.slice(tokenRequests).filter((r) => r.status !== 200 || r.client_id === 'wrong-app')).toEqual([]);
  });

  it('after a restart: the suspensions hold (credentials unchanged), the rotated refresh token is used', async () => {
    await daemon.stop();
    const rotated = oauth.refreshTokens('deleg')[0]!;
    const n = oauth.requests.length;
    daemon = await start();
    await dovecot.append('deleg', message(30, { subject: 'deleg after restart' }));
    await ingested(daemon, 'deleg after restart');
    const delegRequests = oauth.requests.slice(n).filter((r) => r.client_id === 'deleg-app' && r.refresh_token !== null);
    expect(delegRequests[0]).toMatchObject({ refresh_token: rotated, status: 200 });
    expect(delegRequests.some((r) => r.refresh_token === initialTokens.deleg)).toBe(false);
    expect(status(daemon, 'revoked').state).toBe('suspended');
    expect(status(daemon, 'wrongapp').state).toBe('suspended');
    // suspended mailboxes asked the token endpoint nothing after the restart
    expect(oauth.requests.slice(n).some((r) => r.refresh_token === initialTokens.revoked || r.client_id === 'wrong-app')).toBe(false);
  });

  it('credentials changed in config resume a mailbox; POST /v1/mailboxes/:id/resume resumes another', async () => {
    const fresh = oauth.grant('deleg-app', 'revoked');
    const rtFile = await secretFile('revoked-rt-2', fresh);
    await writeConfig({ revoked: { user: 'revoked', oauth2: { clientId: 'deleg-app', tokenUrl: oauth.tokenUrl, flow: 'refresh_token', clientSecretFile: join(secretsDir, 'deleg'), refreshTokenFile: rtFile } } });
    await dovecot.append('revoked', message(40, { subject: 'revoked after new consent' }));
    const r = await daemon.reload('manual');
    expect(r.status).toBe('applied');
    await ingested(daemon, 'revoked after new consent');
    expect(status(daemon, 'revoked').state).not.toBe('suspended');
    expect(status(daemon, 'revoked').suspension ?? null).toBeNull();
    expect(await daemon.metrics.registry.metrics()).toContain('mailroom_mailbox_suspended{mailbox="revoked",company="acme"} 0');

    // the app was given access to the mailbox at the provider: nothing changed in config
    oauth.addClient('wrong-app', SECRETS.wrongapp, { user: 'wrongapp' });
    await dovecot.append('wrongapp', message(41, { subject: 'wrongapp after resume' }));
    expect((await http(daemon, 'POST', '/v1/mailboxes/wrongapp/resume', OTHER_TOKEN)).status).toBe(404);
    expect((await http(daemon, 'POST', '/v1/mailboxes/wrongapp/resume', 'nope')).status).toBe(401);
    expect((await http(daemon, 'POST', '/v1/mailboxes/m365/resume', ACME_TOKEN)).status).toBe(409);
    const ok = await http(daemon, 'POST', '/v1/mailboxes/wrongapp/resume', ACME_TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ mailbox: 'wrongapp', resumed: true });
    await ingested(daemon, 'wrongapp after resume');
    expect(status(daemon, 'wrongapp').state).not.toBe('suspended');
  });

  it('early warning: a client secret expiring in 5 days shows as warning in status and metric, and is mailed once', async () => {
    const res = await http(daemon, 'GET', '/v1/status', ADMIN);
    const warn = (res.body.mailboxes as Record<string, any>[]).find((m) => m.mailbox === 'warn')!;
    expect(warn.credentials).toMatchObject({ state: 'warning', credential: 'clientSecret' });
    expect(warn.credentials.expiresInSeconds).toBeGreaterThan(4 * 86400);
    expect(warn.credentials.expiresInSeconds).toBeLessThanOrEqual(6 * 86400);
    const metrics = await daemon.metrics.registry.metrics();
    const v = Number(/mailroom_oauth_credential_expiry_seconds\{mailbox="warn"\} (\S+)/.exec(metrics)?.[1]);
    expect(v).toBeGreaterThan(4 * 86400);
    expect(v).toBeLessThanOrEqual(6 * 86400);
    const m365 = (res.body.mailboxes as Record<string, any>[]).find((m) => m.mailbox === 'm365')!;
    expect(m365.credentials ?? null).toBeNull(); // nothing known that expires
    const expiring = notifySmtp.messages.filter((m) => m.raw.toString().includes('client secret expires'));
    expect(expiring).toHaveLength(1); // once, even across the restart
    expect(expiring[0]!.envelope.to).toEqual(['it@acme.example']);
  });

  it('no secret or token ever appears in logs, status or metrics', async () => {
    const res = await http(daemon, 'GET', '/v1/status', ADMIN);
    const metrics = await daemon.metrics.registry.metrics();
    const planted = [...Object.values(SECRETS), ...Object.values(initialTokens), ...oauth.refreshTokens('deleg'), ...oauth.refreshTokens('revoked'), ...oauth.issued.keys(), ADMIN, ACME_TOKEN, 'secret-pw'];
    expect(oauth.issued.size).toBeGreaterThan(5);
    const haystacks = { logs: logs.join('\n'), status: JSON.stringify(res.body), metrics, notifications: notifySmtp.messages.map((m) => m.raw.toString()).join('\n') };
    for (const [where, text] of Object.entries(haystacks)) for (const p of planted) expect(text.includes(p), `${where} contains a planted secret`).toBe(false);
    expect(logs.length).toBeGreaterThan(50);
  });
});
