// Webhook delivery details against real HTTP servers on loopback and a real Dovecot: a dead first
// delivery blocks its ticket's reply until replayed (by the CLI) and both then go in order; the
// latency histogram; Retry-After in seconds and as an HTTP date; a redirect to another host is not
// followed; an endless error body is not read whole.
import type { EmbeddedStores } from '../../src/store/embedded/stores.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startReceiver } from '../peers/webhook-receiver.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { MAILROOM, spawnScript } from '../support/daemon-process.js';
import { makeUsers } from '../support/inbound.js';
import { checkedFetch } from '../support/openapi-check.js';

const SECRET = 'webhook-delivery-secret-0123';
const TOKEN = 'webhook-delivery-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['wd-order', 'wd-ra-s', 'wd-ra-d', 'wd-redir', 'wd-body']) });
});
afterAll(async () => {
  await dovecot?.destroy();
});

async function daemonFor(user: string, url: string) {
  const cfg = await writeTestConfig(dovecot, [{ id: 'desk', user, protocol: 'imap', inbound: { idle: false } }], {
    server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: TOKEN, companies: ['*'] }] },
    webhooks: { erp: { url, secret: SECRET, timeout: '5s', initialBackoff: '100ms', maxBackoff: '300ms' } },
    routes: [{ name: 'to-erp', match: { mailbox: 'desk' }, deliver: ['store', 'webhook:erp'] }],
  });
  const daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  return { daemon, cfg, base: `http://127.0.0.1:${daemon.http.address()!.port}` };
}

async function server(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as AddressInfo).port, close: () => new Promise<void>((r) => (s.close(() => r()), s.closeAllConnections())) };
}

const settle = () => new Promise((r) => setTimeout(r, 700));
const question = (tag: string) => message(1, { subject: `Question ${tag}`, messageId: `<${tag}-q@client.example>` });
const reply = (tag: string) => message(2, { subject: `Re: Question ${tag}`, messageId: `<${tag}-r@client.example>` }).replace('MIME-Version', `In-Reply-To: <${tag}-q@client.example>\r\nMIME-Version`);

describe('webhook delivery', () => {
  it('a dead ticket.created blocks the reply; `mailroom webhook replay` sends both, in order; latency histogram', async () => {
    const receiver = await startReceiver(SECRET);
    receiver.failNext(1, 422);
    await dovecot.appendMany('wd-order', [question('o'), reply('o')]);
    const { daemon, cfg, base } = await daemonFor('wd-order', receiver.url);
    try {
      await waitFor(() => (daemon.stores as EmbeddedStores).parts.webhooks.dead('erp').length === 1, 10_000, 'dead letter');
      await settle();
      expect(receiver.accepted).toEqual([]); // the reply did not overtake its ticket
      const status = (await (await checkedFetch(`${base}/v1/status`, { headers: auth })).json()) as { webhooks: unknown[] };
      expect(status.webhooks).toEqual([{ webhook: 'erp', configured: true, pending: 1, deadLetters: 1, blocked: 1 }]);
      const cli = spawnScript(MAILROOM, ['webhook', 'replay', '--config', cfg.dir, '--webhook', 'erp', '--url', base], { ...process.env, MAILROOM_API_TOKEN: TOKEN });
      expect((await cli.exited).code).toBe(0);
      expect(cli.output()).toContain('1 dead letter(s) queued again for webhook erp');
      await waitFor(() => receiver.accepted.length === 2, 10_000, 'both delivered');
      expect(receiver.accepted.map((a) => a.event)).toEqual(['ticket.created', 'article.created']);
      const metrics = await (await checkedFetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/mailroom_webhook_delivery_latency_seconds_bucket\{le="\+Inf",webhook="erp"\} 2/);
      expect(metrics).toMatch(/mailroom_webhook_delivery_latency_seconds_count\{webhook="erp"\} 2/);
    } finally {
      await daemon.stop();
      await receiver.close();
    }
  }, 30_000);

  for (const [user, kind, header] of [
    ['wd-ra-s', 'seconds', () => '2'],
    ['wd-ra-d', 'an HTTP date', () => new Date(Date.now() + 4000).toUTCString()],
  ] as const) {
    it(`Retry-After as ${kind} is honoured over the (100 ms) backoff`, async () => {
      const receiver = await startReceiver(SECRET);
      receiver.failNext(1, kind === 'seconds' ? 503 : 429, { 'retry-after': header() });
      await dovecot.append(user, message(1, { subject: `Retry-After ${kind}` }));
      const { daemon } = await daemonFor(user, receiver.url);
      try {
        await waitFor(() => receiver.attempts.length === 1, 10_000, 'first attempt');
        const failedAt = Date.now();
        await waitFor(() => receiver.accepted.length === 1, 10_000, 'retried delivery');
        expect(receiver.accepted[0]!.at - failedAt).toBeGreaterThanOrEqual(1500);
        expect(receiver.attempts).toHaveLength(2);
      } finally {
        await daemon.stop();
        await receiver.close();
      }
    }, 20_000);
  }

  it('a redirect to another host is not followed: dead letter after one try', async () => {
    const receiver = await startReceiver(SECRET);
    // localhost is another host than 127.0.0.1 as far as the URL goes, though it reaches the receiver.
    const redirector = await server((_req, res) => (res.writeHead(307, { location: `http://localhost:${receiver.port}/hook` }), res.end()));
    await dovecot.append('wd-redir', message(1, { subject: 'Redirected' }));
    const { daemon } = await daemonFor('wd-redir', `http://127.0.0.1:${redirector.port}/hook`);
    try {
      await waitFor(() => (daemon.stores as EmbeddedStores).parts.webhooks.dead('erp').length === 1, 10_000, 'dead letter');
      expect((daemon.stores as EmbeddedStores).parts.webhooks.dead('erp')[0]).toMatchObject({ attempts: 1, lastStatus: 307 });
      await settle();
      expect(receiver.attempts).toEqual([]);
    } finally {
      await daemon.stop();
      await redirector.close();
      await receiver.close();
    }
  });

  it('an endless error body: only its start is read, the excerpt kept, no wait for the timeout', async () => {
    let aborted = false;
    const endless = await server((req, res) => {
      res.writeHead(422, { 'content-type': 'text/plain' });
      const chunk = 'x'.repeat(64 * 1024);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => (aborted = true));
      req.resume();
      pump();
    });
    await dovecot.append('wd-body', message(1, { subject: 'Endless' }));
    const { daemon } = await daemonFor('wd-body', `http://127.0.0.1:${endless.port}/hook`);
    try {
      const started = Date.now();
      await waitFor(() => (daemon.stores as EmbeddedStores).parts.webhooks.dead('erp').length === 1, 10_000, 'dead letter');
      expect(Date.now() - started).toBeLessThan(4000); // the request timeout is 5 s
      expect((daemon.stores as EmbeddedStores).parts.webhooks.dead('erp')[0]!.lastError).toBe(`HTTP 422: ${'x'.repeat(200)}`);
      await waitFor(() => aborted, 5_000, 'body cancelled');
    } finally {
      await daemon.stop();
      await endless.close();
    }
  });
});
