// Issue 20 item 10, end to end with the real local OAuth2 server (test/peers/oauth.ts): an app
// registration deleted in Entra (unauthorized_client, AADSTS700016) or disabled (AADSTS7000112)
// suspends its mailbox at once (it used to back off forever, telling nobody): status shows the code
// and a precise hint, the company gets the mailbox-suspended mail, the token endpoint is asked
// nothing more; `mailroom test-mailbox` names the app and the tenant instead of "check tokenUrl".
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { waitFor } from '../support/daemon-config.js';
import { runTestMailbox, stepRow } from '../support/test-mailbox.js';

const ADMIN = 'admin-token-0123456789abcdef';
const SECRET = 'app-client-secret-PLANTED-77';

let oauth: OAuthPeer;
let notifySmtp: SmtpPeer;
/** Accepts TCP and says nothing: the mailbox never gets past its token anyway. */
let listener: Server;
let root: string;
let configDir: string;
let daemon: Daemon;
const logs: string[] = [];

beforeAll(async () => {
  oauth = await startOAuthServer();
  notifySmtp = await startSmtpServer();
  listener = createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as { port: number }).port;
  oauth.addClient('app-deleted', SECRET, { user: 'deleted' });
  oauth.addClient('app-disabled', SECRET, { user: 'disabled' });
  oauth.deleteClient('app-deleted');
  oauth.disableClient('app-disabled');
  root = await mkdtemp(join(tmpdir(), 'mailroom-app-gone-'));
  configDir = join(root, 'config');
  await Promise.all([mkdir(configDir, { recursive: true }), mkdir(join(root, 'secrets'), { recursive: true })]);
  await writeFile(join(root, 'secrets', 'secret'), `${SECRET}\n`);
  const mb = (user: string, clientId: string) => ({
    auth: { user, oauth2: { flow: 'client_credentials', tenantId: 'contoso', clientId, tokenUrl: oauth.tokenUrl, scope: 'x', clientSecretFile: join(root, 'secrets', 'secret') } },
    inbound: { protocol: 'imap', host: '127.0.0.1', port, security: 'none', pollInterval: '1s' },
  });
  await writeFile(
    join(configDir, 'mailroom.yaml'),
    stringify({
      version: 1,
      server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'admin', token: ADMIN, companies: ['*'] }] },
      store: { path: join(root, 'data') },
      defaults: { outbound: { host: '127.0.0.1', port: notifySmtp.port, security: 'none', from: { address: 'noreply@platform.example' } } },
      companies: { acme: { notify: [{ address: 'it@acme.example', events: ['mailbox-suspended'] }], contracts: { main: { inbound: ['deleted', 'disabled'] } } } },
      mailboxes: { deleted: mb('deleted', 'app-deleted'), disabled: mb('disabled', 'app-disabled') },
    }),
  );
  daemon = new Daemon({
    configPath: configDir,
    logger: createLogger('debug', { write: (l: string) => void logs.push(l) }),
    parseWorkers: 0,
    watch: false,
    pollerOptions: { backoff: { baseMs: 50, maxMs: 200 } },
    suspension: { authFailureThreshold: 3, recheckMs: 200 },
    outbox: { initialBackoffMs: 50, maxBackoffMs: 200, laneBackoffMs: 50, stopTimeoutMs: 1000 },
  });
  await daemon.start();
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([oauth?.close(), notifySmtp?.close(), new Promise((r) => listener?.close(r))]);
  if (root) await rm(root, { recursive: true, force: true });
});

const statusOf = async (id: string) => {
  const res = await fetch(`http://127.0.0.1:${daemon.http.address()!.port}/v1/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return ((await res.json()) as { mailboxes: Record<string, any>[] }).mailboxes.find((m) => m.mailbox === id)!;
};
const suspended = (id: string) => waitFor(async () => ((await statusOf(id))?.state === 'suspended' ? statusOf(id) : null), 10_000, `${id} suspended`);

describe('an app registration deleted or disabled in Entra', () => {
  it.each([
    ['deleted', 'app-deleted', 'AADSTS700016', /the app registration app-deleted was not found in tenant contoso .*re-create it.*update clientId/],
    ['disabled', 'app-disabled', 'AADSTS7000112', /the app registration app-disabled is disabled in tenant contoso: enable it again/],
  ])('%s: the mailbox is suspended with the code and a precise hint; the company is told', async (id, clientId, code, hint) => {
    const s = await suspended(id);
    expect(s.suspension).toMatchObject({ source: 'token-endpoint', code, error: 'unauthorized_client' });
    expect(s.suspendedReason).toMatch(hint);
    expect(s.lastError?.hint).toMatch(hint);
    const note = await waitFor(() => notifySmtp.messages.find((m) => m.raw.toString().includes(`Mailbox ${id} suspended`)), 10_000, `notice about ${id}`);
    expect(note.envelope.to).toEqual(['it@acme.example']);
    const text = note.raw.toString().replace(/=\r\n/g, '');
    expect(text).toContain(code);
    expect(text).toContain(`app registration ${clientId}`);
    // suspended: the token endpoint is asked nothing more
    const asked = oauth.requests.filter((r) => r.client_id === clientId).length;
    await new Promise((r) => setTimeout(r, 600));
    expect(oauth.requests.filter((r) => r.client_id === clientId).length).toBe(asked);
    expect(logs.join('')).not.toContain(SECRET);
  });

  it('test-mailbox names the app and the tenant, not "check tokenUrl, the network"', async () => {
    const { code, out } = await runTestMailbox(configDir, ['deleted'], () => [SECRET]);
    expect(code).toBe(1);
    expect(stepRow(out, 'auth')).toMatch(/FAIL\s+auth\s+.*unauthorized_client \(AADSTS700016\)|FAIL\s+auth\s+.*AADSTS700016/);
    const lines = out.split('\n');
    const hintLine = lines[lines.indexOf(stepRow(out, 'auth')) + 1] ?? '';
    expect(hintLine).toMatch(/→ the app registration app-deleted was not found in tenant contoso/);
    expect(out).not.toMatch(/check tokenUrl, the network/);
    const disabled = await runTestMailbox(configDir, ['disabled'], () => [SECRET]);
    expect(disabled.out).toMatch(/→ the app registration app-disabled is disabled in tenant contoso/);
  });
});
