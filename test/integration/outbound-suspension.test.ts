// Issue 8 on the sending side, end to end with real local servers: a real OAuth2 server on loopback
// (test/peers/oauth.ts) and smtp-server checking XOAUTH2 tokens (test/peers/oauth-smtp.ts). An
// outbound-only mailbox whose grant is revoked is suspended at once (token endpoint: AADSTS50173),
// one whose SMTP login is refused N times in a row too; the others go on. A suspended mailbox's
// mail is held (queued, not failed), status and the metric show the suspension, the company is
// notified through the global default; a credentials change in config, or POST
// /v1/mailboxes/:id/resume, resumes it and the held mail is sent.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startOAuthSmtpServer, type OAuthSmtpPeer } from '../peers/oauth-smtp.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { waitFor } from '../support/daemon-config.js';
import { api } from './outbound-support.js';

const ADMIN = 'admin-token-0123456789abcdef';
const ACME = 'acme-token-0123456789abcdef';
const SECRET = 'sender-client-secret-PLANTED';

let oauth: OAuthPeer;
let smtpOut: OAuthSmtpPeer;
let notifySmtp: SmtpPeer;
let root: string;
let configDir: string;
let secretsDir: string;
let daemon: Daemon;
const logs: string[] = [];

async function writeConfig(senderRefreshTokenFile: string): Promise<void> {
  const out = { host: '127.0.0.1', port: smtpOut.port, security: 'none' };
  const oa = (clientId: string, extra: Record<string, unknown>) => ({ clientId, tokenUrl: oauth.tokenUrl, clientSecretFile: join(secretsDir, 'secret'), ...extra });
  await writeFile(
    join(configDir, 'mailroom.yaml'),
    stringify({
      version: 1,
      server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'admin', token: ADMIN, companies: ['*'] }, { name: 'acme', token: ACME, companies: ['acme'] }] },
      store: { path: join(root, 'data') },
      defaults: { outbound: { host: '127.0.0.1', port: notifySmtp.port, security: 'none', from: { address: 'noreply@platform.example' } } },
      companies: {
        acme: { notify: [{ address: 'it@acme.example', events: ['mailbox-suspended'] }], contracts: { main: { outbound: 'sender' }, refused: { outbound: 'refused' }, ok: { outbound: 'healthy' } } },
      },
      mailboxes: {
        // delegated grant (refresh_token): will be revoked at the provider
        sender: { auth: { user: 'sender', oauth2: oa('app', { flow: 'refresh_token', refreshTokenFile: senderRefreshTokenFile }) }, outbound: { ...out, from: { address: 'sender@acme.example' } } },
        // app-only, but the app may not open this mailbox: the SMTP server refuses every login
        refused: { auth: { user: 'refused', oauth2: oa('wrong-app', { flow: 'client_credentials', scope: 'x' }) }, outbound: { ...out, from: { address: 'refused@acme.example' } } },
        healthy: { auth: { user: 'healthy', oauth2: oa('healthy-app', { flow: 'client_credentials', scope: 'x' }) }, outbound: { ...out, from: { address: 'healthy@acme.example' } } },
      },
    }),
  );
}

const client = () => api(`http://127.0.0.1:${daemon.http.address()!.port}`, ACME);
const send = (contract: string, subject: string) => client().post('/v1/messages', { company: 'acme', contract, kind: 'user', to: 'client@example.org', subject, text: 'hello' });
const received = (subject: string) => smtpOut.messages.some((m) => m.raw.toString().includes(`Subject: ${subject}`));
const statusOf = async (id: string) => ((await api(`http://127.0.0.1:${daemon.http.address()!.port}`, ADMIN).get('/v1/status')).body.mailboxes as Record<string, any>[]).find((m) => m.mailbox === id)!;

beforeAll(async () => {
  oauth = await startOAuthServer({ rotate: false });
  [smtpOut, notifySmtp] = await Promise.all([startOAuthSmtpServer(oauth), startSmtpServer()]);
  root = await mkdtemp(join(tmpdir(), 'mailroom-out-susp-'));
  configDir = join(root, 'config');
  secretsDir = join(root, 'secrets');
  await Promise.all([mkdir(configDir, { recursive: true }), mkdir(secretsDir, { recursive: true })]);
  await writeFile(join(secretsDir, 'secret'), `${SECRET}\n`);
  oauth.addClient('app', SECRET, { rotate: false });
  oauth.addClient('wrong-app', SECRET, { user: 'somebody-else' });
  oauth.addClient('healthy-app', SECRET, { user: 'healthy' });
  await writeFile(join(secretsDir, 'sender-rt'), `${oauth.grant('app', 'sender')}\n`);
  await writeConfig(join(secretsDir, 'sender-rt'));
  daemon = new Daemon({
    configPath: configDir,
    logger: createLogger('debug', { write: (l: string) => void logs.push(l) }),
    parseWorkers: 0,
    watch: false,
    suspension: { authFailureThreshold: 3, recheckMs: 200 },
    outbox: { initialBackoffMs: 100, maxBackoffMs: 300, laneBackoffMs: 50, stopTimeoutMs: 1000 },
  });
  await daemon.start();
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([smtpOut?.close(), notifySmtp?.close(), oauth?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('suspension of outbound-only OAuth2 mailboxes', () => {
  it('a revoked grant suspends the sending mailbox: mail held (queued), status, metric, notification; the others go on', async () => {
    expect((await send('main', 'before revoke')).status).toBe(202);
    await waitFor(() => received('before revoke'), 10_000, 'first message');

    oauth.revokeUser('sender');
    smtpOut.dropConnections(); // the next connection must authenticate again
    const held = await send('main', 'while revoked');
    expect(held.status).toBe(202);
    const s = await waitFor(async () => ((await statusOf('sender'))?.state === 'suspended' ? statusOf('sender') : null), 10_000, 'sender suspended');
    expect(s).toMatchObject({ protocol: 'smtp', state: 'suspended', suspension: { source: 'token-endpoint', code: 'AADSTS50173', error: 'invalid_grant' } });
    expect(s.suspendedReason).toMatch(/AADSTS50173/);
    expect(await daemon.metrics.registry.metrics()).toContain('mailroom_mailbox_suspended{mailbox="sender",company="acme"} 1');

    const note = await waitFor(() => notifySmtp.messages.find((m) => m.raw.toString().includes('Mailbox sender suspended')), 10_000, 'mailbox-suspended notification');
    expect(note.envelope.to).toEqual(['it@acme.example']);
    expect(note.raw.toString()).toContain('AADSTS50173');
    expect(note.raw.toString()).toMatch(/held in the outbox/);

    // held, not failed, and the suspended mailbox asks the token endpoint nothing more
    const tokenRequests = oauth.requests.length;
    await new Promise((r) => setTimeout(r, 800));
    const m = (await client().get(`/v1/messages/${held.body.id}`)).body;
    expect(m).toMatchObject({ status: 'queued', mailbox: 'sender', lastError: { code: 'ESUSPENDED' } });
    expect(oauth.requests.slice(tokenRequests).filter((r) => r.client_id === 'app')).toEqual([]);
    expect(received('while revoked')).toBe(false);

    // another mailbox goes on
    expect((await send('ok', 'healthy meanwhile')).status).toBe(202);
    await waitFor(() => received('healthy meanwhile'), 10_000, 'healthy mailbox message');

    // /v1/status: the outbox's depth shows the held message
    const st = (await api(`http://127.0.0.1:${daemon.http.address()!.port}`, ADMIN).get('/v1/status')).body;
    expect(st.outbox).toMatchObject({ held: 1, failed: 0 });
    expect(st.outbox.depth).toBeGreaterThanOrEqual(1);
  });

  it('SMTP logins refused N times in a row suspend too (code 535)', async () => {
    const r = await send('refused', 'refused login');
    expect(r.status).toBe(202);
    const s = await waitFor(async () => ((await statusOf('refused'))?.state === 'suspended' ? statusOf('refused') : null), 15_000, 'refused suspended');
    expect(s.suspension).toMatchObject({ source: 'server', code: expect.stringMatching(/^535/) });
    expect(s.suspendedReason).toMatch(/3 times in a row/);
    await new Promise((r2) => setTimeout(r2, 300));
    expect((await client().get(`/v1/messages/${r.body.id}`)).body).toMatchObject({ status: 'queued', lastError: { code: 'ESUSPENDED' } });
  });

  it('a credentials change in config resumes and sends the held mail; POST /v1/mailboxes/:id/resume resumes another', async () => {
    await writeFile(join(secretsDir, 'sender-rt-2'), `${oauth.grant('app', 'sender')}\n`);
    await writeConfig(join(secretsDir, 'sender-rt-2'));
    expect((await daemon.reload('manual')).status).toBe('applied');
    await waitFor(() => received('while revoked'), 10_000, 'held message sent after the resume');
    expect((await statusOf('sender')).state).toBe('idle');
    expect(await daemon.metrics.registry.metrics()).toContain('mailroom_mailbox_suspended{mailbox="sender",company="acme"} 0');

    // the app was given access at the provider: nothing changed in config
    oauth.addClient('wrong-app', SECRET, { user: 'refused' });
    const http = api(`http://127.0.0.1:${daemon.http.address()!.port}`, ACME);
    expect((await http.post('/v1/mailboxes/healthy/resume', {})).status).toBe(409);
    const ok = await http.post('/v1/mailboxes/refused/resume', {});
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ mailbox: 'refused', resumed: true, state: 'idle' });
    await waitFor(() => received('refused login'), 10_000, 'held message of the resumed mailbox');
    const st = (await api(`http://127.0.0.1:${daemon.http.address()!.port}`, ADMIN).get('/v1/status')).body;
    expect(st.outbox).toMatchObject({ depth: 0, held: 0, failed: 0, oldestQueuedAt: null });
    expect(logs.join('')).not.toContain(SECRET);
  });
});
