// Webhook sink against a real HTTP receiver on loopback and a real Dovecot: signed, idempotent,
// durable, ordered per ticket; server actions of webhook-only mail wait for the receiver.
import { ticketStoreOf } from '../support/store-of.js';
import type { EmbeddedStores } from '../../src/store/embedded/stores.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { sign, verifySignature } from '../../src/sinks/webhook/signature.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startReceiver, type Receiver } from '../peers/webhook-receiver.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { makeUsers } from '../support/inbound.js';
import { checkedFetch } from '../support/openapi-check.js';

const SECRET = 'webhook-secret-for-tests-123';
const TOKEN = 'webhook-admin-token-0123456789';
let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['hook-a', 'hook-b', 'hook-c', 'hook-d']) });
});
afterAll(async () => {
  await dovecot?.destroy();
});

async function daemonFor(user: string, receiver: Receiver, opts: { deliver: string[]; afterFetch?: string; moveTo?: string; maxAttempts?: number }) {
  const cfg = await writeTestConfig(
    dovecot,
    [{ id: 'desk', user, protocol: 'imap', inbound: { idle: false, ...(opts.afterFetch && { afterFetch: opts.afterFetch }), ...(opts.moveTo && { moveTo: opts.moveTo }) } }],
    {
      server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: TOKEN, companies: ['*'] }] },
      webhooks: { erp: { url: receiver.url, secret: SECRET, timeout: '5s', initialBackoff: '100ms', maxBackoff: '300ms', maxAttempts: opts.maxAttempts ?? 10 } },
      routes: [{ name: 'to-erp', match: { mailbox: 'desk' }, deliver: opts.deliver }],
    },
  );
  const daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  return { daemon, cfg, base: `http://127.0.0.1:${daemon.http.address()!.port}` };
}

describe('webhook sink', () => {
  it('signature: a receiver accepts the real one and rejects a tampered body or an old timestamp', () => {
    const body = '{"a":1}';
    const ts = Math.floor(Date.now() / 1000);
    const sig = sign(SECRET, ts, body);
    expect(verifySignature(SECRET, sig, String(ts), body)).toBe(true);
    expect(verifySignature(SECRET, sig, String(ts), '{"a":2}')).toBe(false);
    expect(verifySignature('other-secret', sig, String(ts), body)).toBe(false);
    expect(verifySignature(SECRET, sign(SECRET, ts - 3600, body), String(ts - 3600), body)).toBe(false);
  });

  it('receiver fails 3 times then accepts: delivered once, id stable, in order per ticket', async () => {
    const receiver = await startReceiver(SECRET);
    receiver.failNext(3, 503);
    const question = message(1, { subject: 'Printer broken', messageId: '<q1@client.example>' });
    const reply = message(2, { subject: 'Re: Printer broken', messageId: '<r1@client.example>' }).replace('MIME-Version', 'In-Reply-To: <q1@client.example>\r\nMIME-Version');
    await dovecot.appendMany('hook-a', [question, reply]);
    const { daemon } = await daemonFor('hook-a', receiver, { deliver: ['store', 'webhook:erp'] });
    try {
      await waitFor(() => receiver.accepted.length >= 2, 15_000, 'two deliveries');
      const failedIds = receiver.attempts.filter((a) => a.status === 503).map((a) => a.deliveryId);
      expect(failedIds).toHaveLength(3);
      expect(new Set(failedIds).size).toBe(1); // the same delivery retried: the ticket's first, blocking its reply
      const [first, second] = receiver.accepted;
      expect(first!.deliveryId).toBe(failedIds[0]);
      expect(first!.event).toBe('ticket.created');
      expect(second!.event).toBe('article.created');
      expect(second!.body.ticket.id).toBe(first!.body.ticket.id);
      expect(first!.body.version).toBe(1);
      const { Ajv2020 } = await import('ajv/dist/2020.js');
      const schema = JSON.parse(await (await import('node:fs/promises')).readFile(new URL('../../schemas/webhook-payload.schema.json', import.meta.url), 'utf8'));
      const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
      for (const a of receiver.accepted) expect(validate(a.body), JSON.stringify(validate.errors)).toBe(true);
      expect(first!.body.article.subject).toBe('Printer broken');
      expect(receiver.accepted.every((a) => a.signatureValid)).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      expect(receiver.accepted).toHaveLength(2); // nothing delivered twice
    } finally {
      await daemon.stop();
      await receiver.close();
    }
  });

  it('a 4xx is dead-lettered after one try, shown in status, and replayed through the API', async () => {
    const receiver = await startReceiver(SECRET);
    receiver.failNext(1, 422);
    await dovecot.append('hook-b', message(1, { subject: 'Invoice 42' }));
    const { daemon, base } = await daemonFor('hook-b', receiver, { deliver: ['store', 'webhook:erp'] });
    const auth = { authorization: `Bearer ${TOKEN}` };
    try {
      await waitFor(() => (daemon.stores as EmbeddedStores).parts.webhooks.dead('erp').length === 1, 10_000, 'dead letter');
      expect(receiver.attempts).toHaveLength(1);
      const status = (await (await checkedFetch(`${base}/v1/status`, { headers: auth })).json()) as any;
      expect(status.webhooks).toEqual([{ webhook: 'erp', configured: true, pending: 0, deadLetters: 1 }]);
      const metrics = await (await checkedFetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/mailroom_webhook_dead_letters\{webhook="erp"\} 1/);
      expect(metrics).toMatch(/mailroom_webhook_deliveries_total\{webhook="erp",result="permanent"\} 1/);
      // a misspelt field, an empty id or an unknown id replays nothing (never "all of them")
      const post = (body: unknown) => checkedFetch(`${base}/v1/webhooks/erp/replay`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      const dead = (daemon.stores as EmbeddedStores).parts.webhooks.dead('erp')[0]!;
      expect((await post({ deliveryId: dead.id })).status).toBe(400);
      expect((await post({ delivery: '' })).status).toBe(400);
      expect((await post({ delivery: 'no-such-delivery' })).status).toBe(404);
      // a body over 64 KiB is the client's error (413), never a 500
      const big = await post({ delivery: 'x'.repeat(70 * 1024) });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { error: string }).error).toMatch(/too large/);
      expect((daemon.stores as EmbeddedStores).parts.webhooks.dead('erp')).toHaveLength(1);
      const res = await checkedFetch(`${base}/v1/webhooks/erp/replay`, { method: 'POST', headers: auth });
      expect(await res.json()).toEqual({ replayed: 1 });
      await waitFor(() => receiver.accepted.length === 1, 10_000, 'replayed delivery');
      expect(receiver.accepted[0]!.body.ticket.subject).toBe('Invoice 42');
      expect((daemon.stores as EmbeddedStores).parts.webhooks.dead('erp')).toHaveLength(0);
    } finally {
      await daemon.stop();
      await receiver.close();
    }
  });

  it('webhook-only mail is moved on the server only after the receiver accepted it', async () => {
    const receiver = await startReceiver(SECRET);
    await receiver.down();
    await dovecot.append('hook-c', message(1, { subject: 'Only for the ERP' }));
    const { daemon } = await daemonFor('hook-c', receiver, { deliver: ['webhook:erp'], afterFetch: 'move', moveTo: 'Done' });
    try {
      await waitFor(() => ticketStoreOf(daemon).stats().tickets === 1, 10_000, 'committed');
      await waitFor(() => receiver.attempts.length === 0 && (daemon.stores as EmbeddedStores).parts.webhooks.pending()[0]?.attempts! >= 1, 10_000, 'failed attempt');
      expect((await dovecot.list('hook-c', 'INBOX')).length).toBe(1); // still there: not yet accepted
      await receiver.up();
      await waitFor(() => receiver.accepted.length === 1, 10_000, 'delivered');
      await waitFor(async () => (await dovecot.list('hook-c', 'Done')).length === 1, 10_000, 'moved after acceptance');
      expect((await dovecot.list('hook-c', 'INBOX')).length).toBe(0);
    } finally {
      await daemon.stop();
      await receiver.close();
    }
  });
});
