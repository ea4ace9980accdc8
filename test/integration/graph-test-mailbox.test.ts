// `mailroom test-mailbox` on Microsoft Graph mailboxes, against the Graph and OAuth2 test peers: a
// working mailbox (token, folder, move target), and each failure told precisely: the token endpoint
// refusing the client, a token without Mail scopes or for another mailbox (Mail.ReadWrite hint), a
// mailbox Graph does not know (Exchange Online hint), a folder that does not exist; --send-to sends
// through sendMail. Secrets never in the output.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startGraphPeer, type GraphPeer } from '../peers/graph.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { runTestMailbox, stepRow } from '../support/test-mailbox.js';

const SECRET = 'graph-tm-secret-PLANTED-77aa';
let oauth: OAuthPeer;
let graph: GraphPeer;
let dir: string;

beforeAll(async () => {
  oauth = await startOAuthServer();
  graph = await startGraphPeer(oauth);
  dir = await mkdtemp(join(tmpdir(), 'mailroom-graph-tm-'));
  for (const u of ['ok@acme.example', 'denied@acme.example', 'folder@acme.example']) graph.addMailbox(u);
  graph.deliver('ok@acme.example', 'Subject: one\r\n\r\nx\r\n');
  oauth.addClient('ok-app', SECRET, { user: 'ok@acme.example' });
  oauth.addClient('denied-app', SECRET, { user: 'someone-else@acme.example' });
  oauth.addClient('ghost-app', SECRET, { user: 'ghost@acme.example' });
  oauth.addClient('folder-app', SECRET, { user: 'folder@acme.example' });
  const mb = (user: string, clientId: string, inbound: Record<string, unknown> | null, extra: Record<string, unknown> = {}, secret = SECRET, scope?: string) => ({
    provider: 'office365',
    apiUrl: graph.url,
    ...(inbound && { inbound: { protocol: 'graph', ...inbound } }),
    ...extra,
    auth: { user, oauth2: { flow: 'client_credentials', clientId, tokenUrl: oauth.tokenUrl, clientSecret: secret, ...(scope && { scope }) } },
  });
  await writeFile(
    join(dir, 'mailroom.yaml'),
    stringify({
      version: 1,
      store: { path: join(dir, 'data') },
      companies: { acme: { contracts: { main: { inbound: ['ok', 'denied', 'noscope', 'ghost', 'nofolder', 'badsecret'] } } } },
      mailboxes: {
        ok: mb('ok@acme.example', 'ok-app', { afterFetch: 'move', moveTo: 'Done' }, { outbound: { transport: 'graph', from: { address: 'ok@acme.example' } } }),
        denied: mb('denied@acme.example', 'denied-app', {}),
        noscope: mb('ok@acme.example', 'ok-app', {}, {}, SECRET, 'openid profile'),
        ghost: mb('ghost@acme.example', 'ghost-app', {}),
        nofolder: mb('folder@acme.example', 'folder-app', { folder: 'Support/Orders' }),
        badsecret: mb('ok@acme.example', 'ok-app', {}, {}, 'wrong-secret-PLANTED'),
      },
    }),
  );
});
afterAll(async () => {
  await Promise.all([graph?.close(), oauth?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => runTestMailbox(join(dir, 'mailroom.yaml'), args, () => [SECRET, 'wrong-secret-PLANTED', ...oauth.issued.keys()]);

describe('test-mailbox on Graph mailboxes', () => {
  it('a working mailbox: token, folder with its counts, the move target; --send-to goes through sendMail', async () => {
    const { code, out } = await run('ok', '--send-to', 'someone@client.example');
    expect(code, out).toBe(0);
    expect(out).toContain(`inbound: graph ${graph.url}, folder INBOX`);
    expect(stepRow(out, 'folder')).toMatch(/ok\s+folder\s+INBOX: 1 message\(s\), 1 unread/);
    expect(stepRow(out, 'moveTo')).toMatch(/warn\s+moveTo\s+Done does not exist yet/);
    expect(stepRow(out, 'send')).toMatch(/ok\s+send\s+to someone@client.example: Graph accepted it \(202\)/);
    expect(graph.sent.at(-1)!.mime.toString()).toContain('Subject: mailroom test message from mailbox ok');
  });

  it('access denied (a token for another mailbox, or without Mail scopes): the permission hint', async () => {
    for (const id of ['denied', 'noscope']) {
      const { code, out } = await run(id);
      expect(code, out).toBe(1);
      expect(out).toMatch(/FAIL\s+folder\s+INBOX: Graph HTTP 403 ErrorAccessDenied/);
      expect(out).toContain('the app needs the Mail.ReadWrite permission');
    }
  });

  it('a mailbox Graph does not have, a folder that does not exist, a client secret refused: each said precisely', async () => {
    const ghost = await run('ghost');
    expect(ghost.out).toMatch(/FAIL\s+folder\s+INBOX: Graph HTTP 404 MailboxNotEnabledForRESTAPI/);
    expect(ghost.out).toContain('the mailbox ghost@acme.example does not exist in Exchange Online');
    const folder = await run('nofolder');
    expect(folder.out).toMatch(/FAIL\s+folder\s+Support\/Orders: not found/);
    const secret = await run('badsecret');
    expect(secret.code).toBe(1);
    expect(stepRow(secret.out, 'auth')).toMatch(/FAIL\s+auth\s+.*invalid_client/);
  });
});
