// OAuth2 beyond the main scenario: IMAP with OAUTHBEARER when the server offers it (Gmail does);
// a client secret revoked at the provider (invalid_client) suspends the mailbox, and writing the new
// secret into the same clientSecretFile (a Kubernetes Secret update: no config change) resumes it by
// itself; SMTP renews a token the server refused (334 challenge, or 535 at once).
import { ticketStoreOf } from '../support/store-of.js';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startOAuthSmtpServer, type OAuthSmtpPeer } from '../peers/oauth-smtp.js';
import { message, waitFor } from '../support/daemon-config.js';
import { makeUsers, stopDovecotHard, ticketSummaries } from '../support/inbound.js';

const OLD_SECRET = 'old-secret-PLANTED-0a0a';
const NEW_SECRET = 'new-secret-PLANTED-1b1b';
const TOKEN = 'api-token-PLANTED-0123456789';

let oauth: OAuthPeer;
let dovecot: Dovecot;
let smtp: OAuthSmtpPeer;
let root: string;
let daemon: Daemon;
const logs: string[] = [];

beforeAll(async () => {
  oauth = await startOAuthServer();
  [dovecot, smtp] = await Promise.all([startDovecot({ users: makeUsers(['bearer', 'app']), oauth2: { introspectionUrl: oauth.introspectionUrl } }), startOAuthSmtpServer(oauth)]);
  root = await mkdtemp(join(tmpdir(), 'mailroom-oauth-rot-'));
  await mkdir(join(root, 'config'));
  await mkdir(join(root, 'secrets'));
  oauth.addClient('google-app', 'google-secret-PLANTED-2c2c');
  oauth.addClient('m365-app', OLD_SECRET, { user: 'app' });
  const rt = oauth.grant('google-app', 'bearer');
  const s = (name: string, v: string) => writeFile(join(root, 'secrets', name), `${v}\n`);
  await Promise.all([s('google', 'google-secret-PLANTED-2c2c'), s('google-rt', rt), s('m365', OLD_SECRET)]);
  const imap = { protocol: 'imap', host: '127.0.0.1', port: dovecot.ports.imaps, security: 'tls', caFile: dovecot.caFile, pollInterval: '1s' };
  const config = {
    version: 1,
    server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'admin', token: TOKEN, companies: ['*'] }] },
    store: { path: join(root, 'data') },
    companies: { acme: { contracts: { main: { inbound: ['bearer', 'app'], outbound: 'app' } } } },
    mailboxes: {
      bearer: { inbound: imap, auth: { user: 'bearer', oauth2: { flow: 'refresh_token', clientId: 'google-app', clientSecretFile: join(root, 'secrets', 'google'), refreshTokenFile: join(root, 'secrets', 'google-rt'), tokenUrl: oauth.tokenUrl, scope: 'https://mail.google.com/' } } },
      app: {
        inbound: imap,
        outbound: { host: '127.0.0.1', port: smtp.port, security: 'none', from: { address: 'app@acme.example' } },
        auth: { user: 'app', oauth2: { flow: 'client_credentials', clientId: 'm365-app', clientSecretFile: join(root, 'secrets', 'm365'), tokenUrl: oauth.tokenUrl, scope: 'https://outlook.office365.com/.default' } },
      },
    },
  };
  await writeFile(join(root, 'config', 'mailroom.yaml'), stringify(config));
  await dovecot.append('bearer', message(1, { subject: 'bearer 1' }));
  await dovecot.append('app', message(1, { subject: 'app 1' }));
  daemon = new Daemon({
    configPath: join(root, 'config'),
    logger: createLogger('debug', { write: (l: string) => void logs.push(l) }),
    parseWorkers: 0,
    watch: false,
    pollerOptions: { backoff: { baseMs: 100, maxMs: 400 } },
    suspension: { authFailureThreshold: 3, recheckMs: 200 },
    outbox: { initialBackoffMs: 100, maxBackoffMs: 400, laneBackoffMs: 50, stopTimeoutMs: 1000 },
  });
  await daemon.start();
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([dovecot?.destroy(), smtp?.close(), oauth?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
});

const subjects = () => ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject);
const status = (id: string) => daemon.supervisor!.statuses().find((s) => s.mailbox === id) as Record<string, any>;

describe('OAuth2 secret rotation and SASL mechanisms', () => {
  it('IMAP uses OAUTHBEARER when the server offers it', async () => {
    await waitFor(() => subjects().includes('bearer 1') && subjects().includes('app 1'), 15_000, 'first mail');
    expect(await readFile(dovecot.logFile, 'utf8')).toMatch(/imap-login: Info: Login: user=<bearer>, method=OAUTHBEARER/);
  });

  it('SMTP renews a token the server refused (revoked access token, grant still fine)', async () => {
    const send = (subject: string) =>
      fetch(`http://127.0.0.1:${daemon.http.address()!.port}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ company: 'acme', contract: 'main', kind: 'user', from: { address: 'agent@acme.example' }, to: 'c@example.org', subject, text: 'x' }),
      });
    expect((await send('first')).status).toBe(202);
    await smtp.waitFor(1);
    // The provider revokes the access tokens only (a token revocation, not the grant).
    for (const t of oauth.issued.values()) if (t.user === 'app') t.revoked = true;
    // the pooled connection goes away: the next one must authenticate, first with the cached token
    smtp.dropConnections();
    expect((await send('second')).status).toBe(202);
    await smtp.waitFor(2, 15_000);
    expect(smtp.messages.map((m) => m.user)).toEqual(['app', 'app']);
    // refused once (the revoked token), then accepted with a renewed one, within the same attempt
    expect(smtp.logins.map((l) => l.ok)).toEqual([true, false, true]);

    // A server that answers 535 at once: the outbox drops the transport and the refused token with it.
    smtp.refuseAtOnce = true;
    for (const t of oauth.issued.values()) if (t.user === 'app') t.revoked = true;
    smtp.dropConnections();
    expect((await send('third')).status).toBe(202);
    await smtp.waitFor(3, 15_000);
    expect(smtp.logins.slice(3).map((l) => l.ok)).toEqual([false, true]);
  });

  it('a client secret revoked at the provider suspends; the new secret written to the same file resumes it', async () => {
    oauth.rotateClientSecret('m365-app', NEW_SECRET);
    for (const t of oauth.issued.values()) if (t.user === 'app') t.revoked = true;
    // tokens are checked at login: end the IMAP sessions so the mailbox logs in again
    await stopDovecotHard(dovecot);
    await dovecot.restart();
    await waitFor(() => status('app')?.state === 'suspended', 15_000, 'app suspended');
    expect(status('app').suspension).toMatchObject({ source: 'token-endpoint', error: 'invalid_client', code: 'AADSTS7000215' });
    await writeFile(join(root, 'secrets', 'm365'), `${NEW_SECRET}\n`);
    await waitFor(() => status('app')?.state !== 'suspended', 10_000, 'app resumed by the rotated file');
    await dovecot.append('app', message(3, { subject: 'app 3' }));
    await waitFor(() => subjects().includes('app 3'), 15_000, 'app 3 read');
    const all = logs.join('\n');
    for (const s of [OLD_SECRET, NEW_SECRET, ...oauth.issued.keys()]) expect(all).not.toContain(s);
  });
});
