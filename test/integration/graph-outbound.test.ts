// Issue 23, `outbound.transport: graph` end to end: POST /v1/messages → the durable outbox → Graph
// sendMail with the MIME (base64, text/plain) on the Graph test peer, token from the OAuth2 peer.
// The peer gets the same bytes the SMTP path sends (one message through both, compared header by
// header and part by part); Graph's 4xx/5xx give the outcomes of their SMTP equivalents: a 5xx is
// retried and then sent, a refused request fails the message and notifies, a throttled one waits.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startGraphPeer, type GraphPeer } from '../peers/graph.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { waitFor } from '../support/daemon-config.js';
import { api, parse, rawHeader, writeOutboundConfig } from './outbound-support.js';

const OPS = 'ops-token-0123456789abcdef';
const USER = 'desk@acme.example';
let oauth: OAuthPeer;
let graph: GraphPeer;
let smtp: SmtpPeer;
let notify: SmtpPeer;
let daemon: Daemon;
let root: string;
let a: ReturnType<typeof api>;

beforeAll(async () => {
  oauth = await startOAuthServer();
  [graph, smtp, notify] = await Promise.all([startGraphPeer(oauth), startSmtpServer(), startSmtpServer()]);
  oauth.addClient('desk-app', 'desk-secret', { user: USER });
  graph.addMailbox(USER);
  const cfg = await writeOutboundConfig({
    server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: OPS, companies: ['*'] }] },
    defaults: { outbound: { host: '127.0.0.1', port: notify.port, security: 'none', from: { name: 'Platform', address: 'noreply@platform.example' } } },
    companies: {
      acme: {
        ticketPrefix: 'ACME',
        notify: [{ address: 'ops@acme.example', events: ['delivery-failed'] }],
        contracts: { main: { outbound: 'graph-out' }, smtp: { outbound: 'smtp-out' } },
      },
    },
    mailboxes: {
      'graph-out': {
        provider: 'office365',
        apiUrl: graph.url,
        address: USER,
        outbound: { transport: 'graph', from: { name: 'ACME Desk', address: USER } },
        auth: { user: USER, oauth2: { flow: 'client_credentials', clientId: 'desk-app', tokenUrl: oauth.tokenUrl, clientSecret: 'desk-secret' } },
      },
      'smtp-out': { address: USER, outbound: { host: '127.0.0.1', port: smtp.port, security: 'none', from: { name: 'ACME Desk', address: USER } } },
    },
  });
  root = cfg.root;
  await writeFile(join(root, 'unused'), '');
  daemon = new Daemon({
    configPath: cfg.dir,
    logger: createLogger(process.env.GO_LOG ?? 'silent'),
    parseWorkers: 0,
    watch: false,
    outbox: { initialBackoffMs: 150, maxBackoffMs: 600, laneBackoffMs: 50, random: () => 0.5, stopTimeoutMs: 1000 },
  });
  await daemon.start();
  a = api(`http://127.0.0.1:${daemon.http.address()!.port}`, OPS);
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([graph?.close(), oauth?.close(), smtp?.close(), notify?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
});

const settled = (id: string, status: string, timeoutMs = 10_000) =>
  waitFor(async () => {
    const r = await a.get(`/v1/messages/${id}`);
    return r.body.status === status ? r.body : null;
  }, timeoutMs, `message ${id} ${status}`);

const message = (contract: string, subject: string) => ({
  company: 'acme',
  contract,
  kind: 'user',
  from: { name: 'Ana Agent', address: 'ana@acme.example' },
  to: [{ name: 'Cliente', address: 'cliente@client.example' }],
  bcc: ['audit@acme.example'],
  subject,
  text: 'Corpo',
  html: '<p>Corpo</p>',
  attachments: [{ filename: 'nota.txt', contentType: 'text/plain', content: Buffer.from('anexo').toString('base64') }],
});

describe('Graph sendMail', () => {
  it('sends the MIME the SMTP path sends (Bcc named for Graph, which sends to the headers); sent, with Graph\'s 202', async () => {
    const viaGraph = await a.post('/v1/messages', message('main', 'Pedido 1'));
    const viaSmtp = await a.post('/v1/messages', message('smtp', 'Pedido 1'));
    expect([viaGraph.status, viaSmtp.status]).toEqual([202, 202]);
    const s = await settled(viaGraph.body.id, 'sent');
    expect(s).toMatchObject({ attempts: 1, confirmed: true, response: '202 Accepted (Graph sendMail)', accepted: ['cliente@client.example', 'audit@acme.example'] });
    const [m] = await smtp.waitFor(1);
    const sent = graph.sent[0]!;
    expect(sent.mailbox).toBe(USER);
    // Bcc: only in the copy Graph gets (it removes it before delivery), as the first line
    expect(sent.mime.toString('latin1').split('\r\n')[0]).toBe('Bcc: audit@acme.example');
    const graphMime = sent.mime.subarray(sent.mime.indexOf('\r\n') + 2);
    expect(rawHeader(m!.raw, 'Bcc')).toBeNull();
    // the same message otherwise: every header but the per-message ones, every part
    const [pg, ps] = await Promise.all([parse(graphMime), parse(m!.raw)]);
    expect(rawHeader(graphMime, 'Message-ID')).toBe(`<${viaGraph.body.messageId}>`);
    for (const h of ['From', 'Reply-To', 'To', 'Subject', 'MIME-Version', 'Auto-Submitted']) expect(rawHeader(graphMime, h), h).toBe(rawHeader(m!.raw, h));
    expect([pg.text, pg.html, pg.attachments.map((x) => [x.filename, x.contentType, x.content.toString()])]).toEqual([ps.text, ps.html, ps.attachments.map((x) => [x.filename, x.contentType, x.content.toString()])]);
    // Graph keeps its copy in Sent Items
    expect(graph.messages(USER, 'sentitems')).toHaveLength(1);
    expect(graph.requests.find((r) => r.path.endsWith('/sendMail'))?.status).toBe(202);
  });

  it('a Graph 5xx is retried like an SMTP 451, then sent once', async () => {
    const before = graph.sent.length;
    graph.failNext(USER, 1, 500, 'ErrorInternalServerError', 'An internal server error occurred.');
    const r = await a.post('/v1/messages', message('main', 'Pedido 2'));
    const s = await settled(r.body.id, 'sent');
    expect(s.attempts).toBe(2);
    expect(s.possibleDuplicate).toBe(false);
    expect(graph.sent.length - before).toBe(1);
  });

  it('a throttled sendMail waits Retry-After and is sent on the same attempt', async () => {
    graph.failNext(USER, 1, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'retry-after': '1' });
    const t0 = Date.now();
    const r = await a.post('/v1/messages', message('main', 'Pedido 3'));
    const s = await settled(r.body.id, 'sent');
    expect(s.attempts).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  });

  it('a request Graph refuses (4xx) fails the message like an SMTP 554 and notifies the company', async () => {
    graph.failNext(USER, 1, 400, 'ErrorInvalidRecipients', 'At least one recipient is not valid.');
    notify.clear();
    const r = await a.post('/v1/messages', message('main', 'Pedido 4'));
    const s = await settled(r.body.id, 'failed');
    expect(s.lastError).toMatchObject({ class: 'permanent', responseCode: 554 });
    expect(s.lastError.message).toMatch(/ErrorInvalidRecipients/);
    const [n] = await notify.waitFor(1);
    expect(n!.raw.toString()).toMatch(/Pedido 4/);
  });
});
