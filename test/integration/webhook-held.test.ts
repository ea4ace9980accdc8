// Held and dropped mail against a real HTTP receiver on loopback and a real Dovecot: a held ticket's
// webhooks wait for approval (then go, in order, showing the approved ticket), a rejected one's are
// never sent, dropped mail goes nowhere. Webhook-only held mail does not keep the mail server
// waiting: it is committed in the store, so its server action runs. A reply to a rejected ticket
// reopens it as held (even once the config no longer holds), and approval announces the ticket.
import { ticketStoreOf } from '../support/store-of.js';
import type { EmbeddedStores } from '../../src/store/embedded/stores.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startReceiver, type Receiver } from '../peers/webhook-receiver.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { makeUsers } from '../support/inbound.js';
import { checkedFetch } from '../support/openapi-check.js';

const SECRET = 'webhook-held-secret-0123';
const TOKEN = 'webhook-held-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['held-a', 'held-b', 'held-c', 'held-d']) });
});
afterAll(async () => {
  await dovecot?.destroy();
});

async function daemonFor(user: string, receiver: Receiver, route: Record<string, unknown>, more: Record<string, unknown>[] = []) {
  const cfg = await writeTestConfig(dovecot, [{ id: 'desk', user, protocol: 'imap', inbound: { idle: false, afterFetch: 'move', moveTo: 'Done' } }], {
    server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: TOKEN, companies: ['*'] }] },
    webhooks: { erp: { url: receiver.url, secret: SECRET, timeout: '5s', initialBackoff: '100ms', maxBackoff: '300ms' } },
    routes: [{ name: 'to-erp', match: { mailbox: 'desk' }, deliver: ['webhook:erp'], ...route }, ...more],
  });
  return { ...(await startDaemon(cfg.dir)), cfg };
}

async function startDaemon(configPath: string) {
  const daemon = new Daemon({ configPath, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  return { daemon, base: `http://127.0.0.1:${daemon.http.address()!.port}` };
}

/** A console session (what an operator signs in with): its cookie. */
async function consoleCookie(base: string): Promise<string> {
  const res = await fetch(`${base}/console/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' });
  expect(res.status).toBe(303);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

const status = async (base: string) => ((await (await checkedFetch(`${base}/v1/status`, { headers: auth })).json()) as { webhooks: unknown[] }).webhooks;
const heldTicket = (daemon: Daemon) => ticketStoreOf(daemon).listTickets({ companies: '*', status: 'held', limit: 10 }).items[0]!.id;
const settle = () => new Promise((r) => setTimeout(r, 700));

describe('webhook sink and held / dropped tickets', () => {
  it('held: nothing sent, the server action runs; approve sends ticket.created then the reply, as open', async () => {
    const receiver = await startReceiver(SECRET);
    const question = message(1, { subject: 'Needs approval', messageId: '<h1@client.example>' });
    const reply = message(2, { subject: 'Re: Needs approval', messageId: '<h2@client.example>' }).replace('MIME-Version', 'In-Reply-To: <h1@client.example>\r\nMIME-Version');
    await dovecot.appendMany('held-a', [question, reply]);
    const { daemon, base } = await daemonFor('held-a', receiver, { hold: true });
    try {
      await waitFor(() => ticketStoreOf(daemon).stats().articles === 2, 10_000, 'committed');
      // Webhook-only, but held: committed in the store, so the server does not wait for approval.
      await waitFor(async () => (await dovecot.list('held-a', 'Done')).length === 2, 10_000, 'moved while held');
      await settle();
      expect(receiver.attempts).toEqual([]);
      expect(await status(base)).toEqual([{ webhook: 'erp', configured: true, pending: 0, deadLetters: 0, held: 2 }]);
      const id = heldTicket(daemon);
      const res = await checkedFetch(`${base}/v1/tickets/${id}/approve`, { method: 'POST', headers: auth });
      expect(res.status).toBe(200);
      await waitFor(() => receiver.accepted.length === 2, 10_000, 'delivered after approval');
      expect(receiver.accepted.map((a) => a.event)).toEqual(['ticket.created', 'article.created']);
      expect(receiver.accepted[0]!.body.ticket).toMatchObject({ id, status: 'open' });
      await settle();
      expect(receiver.accepted).toHaveLength(2);
      expect(await status(base)).toEqual([{ webhook: 'erp', configured: true, pending: 0, deadLetters: 0 }]);
    } finally {
      await daemon.stop();
      await receiver.close();
    }
  });

  it('held then rejected: never sent', async () => {
    const receiver = await startReceiver(SECRET);
    await dovecot.append('held-b', message(1, { subject: 'Will be rejected' }));
    const { daemon, base } = await daemonFor('held-b', receiver, { hold: true });
    try {
      await waitFor(() => (daemon.stores as EmbeddedStores).parts.webhooks.depth().get('erp')?.held === 1, 10_000, 'held delivery');
      const id = heldTicket(daemon);
      expect((await checkedFetch(`${base}/v1/tickets/${id}/reject`, { method: 'POST', headers: auth })).status).toBe(200);
      await settle();
      expect(receiver.attempts).toEqual([]);
      expect(await status(base)).toEqual([{ webhook: 'erp', configured: true, pending: 0, deadLetters: 0 }]);
    } finally {
      await daemon.stop();
      await receiver.close();
    }
  });

  it('a reply to a rejected ticket reopens it as held (the config no longer holds), flagged, in the queue; approval announces it once', async () => {
    const receiver = await startReceiver(SECRET);
    await dovecot.append('held-d', message(1, { subject: 'Please refund', messageId: '<r1@client.example>' }));
    let { daemon, base, cfg } = await daemonFor('held-d', receiver, { hold: true });
    try {
      await waitFor(() => (daemon.stores as EmbeddedStores).parts.webhooks.depth().get('erp')?.held === 1, 10_000, 'held delivery');
      const id = heldTicket(daemon);
      expect((await checkedFetch(`${base}/v1/tickets/${id}/reject`, { method: 'POST', headers: auth })).status).toBe(200);
      // Approval is no longer required: the route keeps sending to the webhook, without hold.
      await daemon.stop();
      const file = join(cfg.dir, 'mailroom.yaml');
      const config = parse(await readFile(file, 'utf8')) as { routes: Record<string, unknown>[] };
      delete config.routes[0]!['hold'];
      await writeFile(file, stringify(config));
      ({ daemon, base } = await startDaemon(cfg.dir));
      const reply = message(2, { subject: 'Re: Please refund', messageId: '<r2@client.example>' }).replace('MIME-Version', 'In-Reply-To: <r1@client.example>\r\nMIME-Version');
      await dovecot.append('held-d', reply);
      await waitFor(() => ticketStoreOf(daemon).stats().articles === 2, 10_000, 'reply committed');
      const ticket = (await (await checkedFetch(`${base}/v1/tickets/${id}`, { headers: auth })).json()) as { status: string; articles: { flags: string[] }[] };
      expect(ticket.status).toBe('held');
      expect(ticket.articles[1]!.flags).toEqual(expect.arrayContaining(['reply-to-rejected', 'held:reply-to-rejected']));
      const list = (await (await checkedFetch(`${base}/v1/tickets?status=held`, { headers: auth })).json()) as { items: { id: string }[] };
      expect(list.items.map((t) => t.id)).toEqual([id]);
      const page = await (await fetch(`${base}/console/approvals`, { headers: { cookie: await consoleCookie(base) } })).text();
      expect(page).toContain(id);
      expect(page).toContain('a reply reopened it after a rejection');
      await settle();
      expect(receiver.attempts).toEqual([]);
      expect(await status(base)).toEqual([{ webhook: 'erp', configured: true, pending: 0, deadLetters: 0, held: 1 }]);
      expect((await checkedFetch(`${base}/v1/tickets/${id}/approve`, { method: 'POST', headers: auth })).status).toBe(200);
      await waitFor(() => receiver.accepted.length === 1, 10_000, 'delivered after approval');
      await settle();
      // Exactly once, and as the ticket's announcement: the platform never heard of the rejected ticket.
      expect(receiver.accepted).toHaveLength(1);
      const got = receiver.accepted[0]!;
      expect(got.event).toBe('ticket.created');
      expect(got.body).toMatchObject({ event: 'ticket.created', ticket: { id, status: 'open', subject: 'Please refund' }, article: { no: 2, messageId: 'r2@client.example' } });
      expect((got.body as { article: { flags: string[] } }).article.flags).toContain('reply-to-rejected');
      expect(await status(base)).toEqual([{ webhook: 'erp', configured: true, pending: 0, deadLetters: 0 }]);
    } finally {
      await daemon.stop();
      await receiver.close();
    }
  });

  it('dropped: delivered nowhere, raw kept, the server action runs', async () => {
    const receiver = await startReceiver(SECRET);
    await dovecot.append('held-c', message(1, { subject: 'Spam' }));
    // A later route drops what an earlier one sent to the webhook (a route cannot do both itself).
    const { daemon } = await daemonFor('held-c', receiver, {}, [{ name: 'spam', match: { mailbox: 'desk' }, drop: 'spam' }]);
    try {
      await waitFor(() => ticketStoreOf(daemon).stats().tickets === 1, 10_000, 'committed');
      await waitFor(async () => (await dovecot.list('held-c', 'Done')).length === 1, 10_000, 'moved');
      await settle();
      expect(receiver.attempts).toEqual([]);
      expect((daemon.stores as EmbeddedStores).parts.webhooks.depth().size).toBe(0);
    } finally {
      await daemon.stop();
      await receiver.close();
    }
  });
});
