// End to end through the daemon's API to real SMTP servers (smtp-server on loopback): the mail
// arrives with the right From / Sender / Reply-To, envelope, Message-ID and threading headers;
// header injection is refused; 4xx is retried until accepted; 5xx fails and the company's notify
// address is told through the global default; a dead server only holds up its own mailbox.
import { ticketStoreOf } from '../support/store-of.js';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { classifyMessage } from '../../src/ingest/classify.js';
import { findThread } from '../../src/ingest/thread.js';
import { createLogger } from '../../src/observability/logger.js';
import { sampleItem } from '../support/store-sample.js';
import { makeCertificates } from '../peers/certs.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { waitFor } from '../support/daemon-config.js';
import { api, parse, rawHeader, writeOutboundConfig } from './outbound-support.js';

const ACME = 'acme-token-0123456789abcdef';
const OPS = 'ops-token-0123456789abcdef';
const OTHER = 'other-token-0123456789abcdef';
const PASSWORD = 'smtp-Pa55word-not-printed';

let acmeSmtp: SmtpPeer; // contract mailbox: STARTTLS with a private CA, AUTH
let userSmtp: SmtpPeer; // sendAs: user mailbox
let defaultSmtp: SmtpPeer; // global default (system mail, notifications)
let flakySmtp: SmtpPeer;
let batchSmtp: SmtpPeer;
let limitSmtp: SmtpPeer;
let mixedSmtp: SmtpPeer;
let secrets: string;
let blackhole: Server;
const held: Socket[] = [];
let daemon: Daemon;
let root: string;
let a: ReturnType<typeof api>;
let ops: ReturnType<typeof api>;

beforeAll(async () => {
  secrets = await mkdtemp(join(tmpdir(), 'mailroom-out-secrets-'));
  const certs = await makeCertificates(join(secrets, 'certs'));
  let laterTries = 0;
  [acmeSmtp, userSmtp, defaultSmtp, flakySmtp, batchSmtp, limitSmtp, mixedSmtp] = await Promise.all([
    startSmtpServer({ certs, auth: { user: 'support@acme.example', pass: PASSWORD } }),
    startSmtpServer(),
    startSmtpServer(),
    startSmtpServer(),
    startSmtpServer(),
    startSmtpServer(),
    startSmtpServer({
      onRcpt: (address) => {
        if (address === 'gone@client.example') return { code: 550, message: '5.1.1 gone' };
        if (address === 'later@client.example' && laterTries++ === 0) return { code: 452, message: '4.2.2 mailbox full, try later' };
      },
    }),
  ]);
  // A server that accepts TCP connections and never says a word (no greeting).
  blackhole = createServer((s) => void held.push(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  const blackholePort = (blackhole.address() as { port: number }).port;
  const pwFile = join(secrets, 'acme-password');
  await writeFile(pwFile, `${PASSWORD}\n`);
  const plain = (peer: SmtpPeer, address: string, extra: Record<string, unknown> = {}) => ({
    address,
    outbound: { host: '127.0.0.1', port: peer.port, security: 'none', from: { address }, ...extra },
  });
  const cfg = await writeOutboundConfig({
    server: {
      listen: '127.0.0.1:0',
      apiTokens: [
        { name: 'acme', token: ACME, companies: ['acme'] },
        { name: 'ops', token: OPS, companies: ['*'] },
        { name: 'other', token: OTHER, companies: ['other'] },
      ],
    },
    defaults: { outbound: { host: '127.0.0.1', port: defaultSmtp.port, security: 'none', from: { name: 'Platform', address: 'noreply@platform.example' } } },
    companies: {
      acme: {
        ticketPrefix: 'ACME',
        notify: [{ address: 'ops@acme.example', events: ['delivery-failed'] }, { address: 'cto@acme.example', events: ['mailbox-suspended'] }],
        contracts: {
          main: { outbound: 'acme-out' },
          users: { outbound: 'acme-as-user' },
          flaky: { outbound: 'flaky-out' },
          batched: { outbound: 'batched-out' },
          limited: { outbound: 'limited-out' },
          dead: { outbound: 'dead-out' },
          mixed: { outbound: 'mixed-out' },
        },
      },
      other: { contracts: { x: { outbound: 'other-out' } } },
    },
    mailboxes: {
      'acme-out': {
        address: 'support@acme.example',
        auth: { user: 'support@acme.example', passwordFile: pwFile },
        outbound: { host: 'localhost', port: acmeSmtp.port, security: 'starttls', caFile: certs.caFile, from: { name: 'ACME Support', address: 'support@acme.example' } },
      },
      'acme-as-user': plain(userSmtp, 'desk@acme.example', { sendAs: 'user', from: { name: 'ACME Desk', address: 'desk@acme.example' } }),
      'flaky-out': plain(flakySmtp, 'flaky@acme.example'),
      'batched-out': plain(batchSmtp, 'batch@acme.example', { batchWindow: '1500ms' }),
      'limited-out': plain(limitSmtp, 'limited@acme.example', { maxPerMinute: 2 }),
      'mixed-out': plain(mixedSmtp, 'mixed@acme.example'),
      'other-out': plain(defaultSmtp, 'desk@other.example'),
      'dead-out': plain({ port: blackholePort } as SmtpPeer, 'dead@acme.example', { timeout: '10s', maxConnections: 2 }),
    },
  });
  root = cfg.root;
  daemon = new Daemon({
    configPath: cfg.dir,
    logger: createLogger(process.env.OB_LOG ?? 'silent'),
    parseWorkers: 0,
    watch: false,
    outbox: { initialBackoffMs: 150, maxBackoffMs: 600, laneBackoffMs: 50, random: () => 0.5, stopTimeoutMs: 1000 },
  });
  await daemon.start();
  const base = `http://127.0.0.1:${daemon.http.address()!.port}`;
  a = api(base, ACME);
  ops = api(base, OPS);
});

afterAll(async () => {
  await daemon?.stop();
  for (const s of held) s.destroy();
  await new Promise<void>((r) => (blackhole ? blackhole.close(() => r()) : r()));
  await Promise.all([acmeSmtp, userSmtp, defaultSmtp, flakySmtp, batchSmtp, limitSmtp, mixedSmtp].map((p) => p?.close()));
  await rm(root, { recursive: true, force: true });
  await rm(secrets, { recursive: true, force: true });
});

async function settled(id: string, status = 'sent', timeoutMs = 10_000) {
  return waitFor(async () => {
    const r = await ops.get(`/v1/messages/${id}`);
    return r.body.status === status ? r.body : null;
  }, timeoutMs, `message ${id} ${status}`);
}

describe('POST /v1/messages: what arrives', () => {
  it('user mail, sendAs mailbox: From is the mailbox, Reply-To the person; Bcc only in the envelope; STARTTLS + AUTH; own Message-ID', async () => {
    acmeSmtp.clear();
    const r = await a.post('/v1/messages', {
      company: 'acme',
      contract: 'main',
      kind: 'user',
      from: { name: 'Ana Agent', address: 'ana@acme.example' },
      to: [{ name: 'Cliente Um', address: 'cliente@client.example' }],
      cc: 'copia@client.example',
      bcc: ['audit@acme.example'],
      subject: 'Olá — seu pedido',
      text: 'Corpo da mensagem',
      html: '<p>Corpo da mensagem</p>',
      attachments: [{ filename: 'nota.txt', contentType: 'text/plain', content: Buffer.from('anexo').toString('base64') }],
    });
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBe(`/v1/messages/${r.body.id}`);
    expect(r.body).toMatchObject({ mailbox: 'acme-out', messageId: expect.stringMatching(/\.mailroom@acme\.example$/) });
    expect(['queued', 'sending']).toContain(r.body.status);
    const [m] = await acmeSmtp.waitFor(1);
    expect(m!.envelope).toEqual({ from: 'support@acme.example', to: ['cliente@client.example', 'copia@client.example', 'audit@acme.example'] });
    expect(m!.secure).toBe(true);
    expect(m!.auth).toBe('support@acme.example');
    const p = await parse(m!.raw);
    expect(p.from?.value).toEqual([{ name: 'ACME Support', address: 'support@acme.example' }]);
    expect(p.replyTo?.value).toEqual([{ name: 'Ana Agent', address: 'ana@acme.example' }]);
    expect(p.headers.has('sender')).toBe(false);
    expect(p.headers.has('bcc')).toBe(false);
    expect(m!.raw.toString('latin1')).not.toContain('audit@acme.example');
    expect(p.subject).toBe('Olá — seu pedido');
    expect(p.text?.trim()).toBe('Corpo da mensagem');
    expect(p.attachments.map((x) => [x.filename, x.content.toString()])).toEqual([['nota.txt', 'anexo']]);
    expect(p.messageId).toMatch(/^<[a-z0-9]+\.mailroom@acme\.example>$/);
    expect(p.messageId).toBe(`<${r.body.messageId}>`);
    // If it ever comes back in (a loop), ingest knows it as our own.
    expect(classifyMessage({ headers: {}, contentType: 'text/plain', from: null, messageId: r.body.messageId, subject: '', inReplyTo: [], references: [] })).toContain('own-message');
    const s = await settled(r.body.id);
    expect(s).toMatchObject({ status: 'sent', attempts: 1, confirmed: true, accepted: ['cliente@client.example', 'copia@client.example', 'audit@acme.example'], pending: [], mailbox: 'acme-out' });
    expect(s.response).toMatch(/^250 /);
  });

  it('user mail, sendAs user: From is the person, Sender the mailbox; the envelope stays the mailbox', async () => {
    userSmtp.clear();
    const r = await a.post('/v1/messages', { company: 'acme', contract: 'users', kind: 'user', from: { name: 'Ana Agent', address: 'ana@acme.example' }, to: 'cliente@client.example', subject: 'On behalf', text: 'x' });
    expect(r.status).toBe(202);
    const [m] = await userSmtp.waitFor(1);
    const p = await parse(m!.raw);
    expect(p.from?.value).toEqual([{ name: 'Ana Agent', address: 'ana@acme.example' }]);
    expect(rawHeader(m!.raw, 'Sender')).toBe('ACME Desk <desk@acme.example>');
    expect(p.replyTo).toBeUndefined();
    expect(m!.envelope.from).toBe('desk@acme.example');
    expect(p.messageId).toMatch(/\.mailroom@acme\.example>$/);
  });

  it('system mail goes through the global default sender', async () => {
    defaultSmtp.clear();
    const r = await a.post('/v1/messages', { company: 'acme', contract: 'main', kind: 'system', to: 'user@client.example', subject: 'Password reset', text: 'reset link' });
    expect(r.body.mailbox).toBe('default');
    const [m] = await defaultSmtp.waitFor(1);
    const p = await parse(m!.raw);
    expect(p.from?.value).toEqual([{ name: 'Platform', address: 'noreply@platform.example' }]);
    expect(m!.envelope).toEqual({ from: 'noreply@platform.example', to: ['user@client.example'] });
    expect(p.messageId).toMatch(/\.mailroom@platform\.example>$/);
  });

  it('refuses CR/LF in a subject, a name or a filename (400), and nothing is sent', async () => {
    const before = acmeSmtp.messages.length;
    const base = { company: 'acme', contract: 'main', kind: 'user', to: 'cliente@client.example', text: 'x' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, subject: 'Hi\r\nBcc: everyone@victim.example' }, 'subject'],
      [{ ...base, subject: 'ok', to: [{ name: 'Eve\nBcc: x@y.example', address: 'eve@client.example' }] }, 'to[0].name'],
      [{ ...base, subject: 'ok', from: { name: 'Ana\r', address: 'ana@acme.example' } }, 'from.name'],
      [{ ...base, subject: 'ok', attachments: [{ filename: 'a\r\nContent-Type: text/html', content: 'eA==' }] }, 'attachments[0].filename'],
    ];
    for (const [body, field] of cases) {
      const r = await a.post('/v1/messages', body);
      expect(r.status, field).toBe(400);
      expect(r.body.details).toEqual([{ field, message: `${field} must not contain CR or LF` }]);
    }
    const bad = await a.post('/v1/messages', { ...base, subject: 'ok', to: 'not an address' });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('to');
    const missing = await a.post('/v1/messages', { company: 'acme', kind: 'user', text: 'x' });
    expect(missing.status).toBe(400);
    expect(missing.body.details.map((d: { field: string }) => d.field).sort()).toEqual(['subject', 'to']);
    await new Promise((r) => setTimeout(r, 200));
    expect(acmeSmtp.messages.length).toBe(before);
  });

  it('tokens are company-scoped: 401 without, 403 to send for another company, 404 to read its messages', async () => {
    const body = { company: 'acme', kind: 'system', to: 'x@client.example', subject: 's', text: 't' };
    expect((await api(`http://127.0.0.1:${daemon.http.address()!.port}`, null).post('/v1/messages', body)).status).toBe(401);
    const other = api(`http://127.0.0.1:${daemon.http.address()!.port}`, OTHER);
    expect((await other.post('/v1/messages', body)).status).toBe(403);
    const r = await a.post('/v1/messages', body);
    expect((await other.get(`/v1/messages/${r.body.id}`)).status).toBe(404);
    expect((await a.get(`/v1/messages/${r.body.id}`)).status).toBe(200);
    expect((await a.post('/v1/messages', { ...body, contract: 'nope' })).status).toBe(422);
    // A company token cannot pick another company's mailbox; a platform token can.
    const foreign = await a.post('/v1/messages', { ...body, kind: 'user', mailbox: 'other-out' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe('mailbox other-out is not a mailbox of company acme');
    expect((await ops.post('/v1/messages', { ...body, kind: 'user', mailbox: 'other-out' })).status).toBe(202);
    expect((await a.post('/v1/messages', { ...body, kind: 'user', mailbox: 'acme-out' })).status).toBe(202);
    const empty = await a.post('/v1/messages', { company: 'acme', kind: 'system', to: 'x@client.example', subject: 's' });
    expect(empty.status).toBe(400);
    expect(empty.body.details).toEqual([{ field: 'text', message: 'text or html is required' }]);
  });

  it('Idempotency-Key: a retried POST returns the first message and sends once', async () => {
    defaultSmtp.clear();
    const body = { company: 'acme', kind: 'system', to: 'once@client.example', subject: 'Once', text: 't' };
    // Two at once (a client retrying before the first answer), then one more later.
    const [r1, r1b] = await Promise.all([a.post('/v1/messages', body, { 'idempotency-key': 'order-42-confirmation' }), a.post('/v1/messages', body, { 'idempotency-key': 'order-42-confirmation' })]);
    expect(r1b.body.id).toBe(r1.body.id);
    const r2 = await a.post('/v1/messages', body, { 'idempotency-key': 'order-42-confirmation' });
    expect(r2.body.id).toBe(r1.body.id);
    expect(r2.headers.get('idempotent-replayed')).toBe('true');
    // the same key with another message is refused, not answered with the first one
    const r3 = await a.post('/v1/messages', { ...body, subject: 'Something else' }, { 'idempotency-key': 'order-42-confirmation' });
    expect(r3.status).toBe(422);
    expect(JSON.stringify(r3.body)).toMatch(/already used for a different message/);
    await settled(r1.body.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(defaultSmtp.messages.filter((m) => m.envelope.to.includes('once@client.example'))).toHaveLength(1);
  });
});

describe('ticket replies thread back onto the ticket', () => {
  it('POST /v1/tickets/:id/reply: through the contract mailbox, to the customer, In-Reply-To / References / subject tag', async () => {
    const [t] = await ticketStoreOf(daemon).commit([
      sampleItem({ company: 'acme', contract: 'main', prefix: 'ACME', uid: 9001, messageId: 'orig-1@customer.example', references: ['root-0@customer.example'], subject: 'Printer broken', action: 'keep', checkpoint: false }),
    ]);
    const ticketId = t!.ticketId;
    acmeSmtp.clear();
    const r = await a.post(`/v1/tickets/${ticketId}/reply`, { from: { name: 'Ana Agent', address: 'ana@acme.example' }, text: 'We are on it.' });
    expect(r.status).toBe(202);
    const [m] = await acmeSmtp.waitFor(1);
    const p = await parse(m!.raw);
    expect(m!.envelope).toEqual({ from: 'support@acme.example', to: ['jane@customer.example'] });
    expect(p.subject).toBe(`Re: Printer broken [${ticketId}]`);
    expect(p.inReplyTo).toBe('<orig-1@customer.example>');
    expect(rawHeader(m!.raw, 'References')).toBe('<root-0@customer.example> <orig-1@customer.example>');
    expect((await a.get(`/v1/messages/${r.body.id}`)).body.ticket).toBe(ticketId);

    // The customer answers our reply: it threads by References, and by the subject tag when a client drops them.
    const ours = p.messageId!.slice(1, -1);
    const lookups = { findByMessageIds: (c: string, ids: string[]) => ticketStoreOf(daemon).findByMessageIds(c, ids), findTicket: (id: string) => ticketStoreOf(daemon).findByTicketId(id) };
    const answer = { inReplyTo: [ours], references: ['root-0@customer.example', 'orig-1@customer.example', ours], subject: `Re: ${p.subject}` };
    expect(findThread('acme', 'ACME', answer, lookups)).toEqual({ ticketId, by: 'references' });
    // by tag alone: the customer is on the ticket (verified); a stranger's mail is marked
    const onTicket = { ...lookups, participants: () => ['jane@customer.example'] };
    const byTag = { inReplyTo: [], references: [], subject: answer.subject };
    expect(findThread('acme', 'ACME', { ...byTag, from: { address: 'jane@customer.example' } }, onTicket)).toEqual({ ticketId, by: 'subject-tag' });
    expect(findThread('acme', 'ACME', { ...byTag, from: { address: 'x@elsewhere.example' } }, onTicket)).toEqual({ ticketId, by: 'subject-tag', unverifiedSender: true });

    // The same through POST /v1/messages with `ticket`; another company's token cannot reply.
    acmeSmtp.clear();
    const r2 = await a.post('/v1/messages', { company: 'acme', kind: 'user', ticket: ticketId, subject: 'Update on your printer', text: 'Fixed.' });
    expect(r2.status).toBe(202);
    const [m2] = await acmeSmtp.waitFor(1);
    const p2 = await parse(m2!.raw);
    expect(p2.subject).toBe(`Update on your printer [${ticketId}]`);
    expect(p2.inReplyTo).toBe('<orig-1@customer.example>');
    const other = api(`http://127.0.0.1:${daemon.http.address()!.port}`, OTHER);
    expect((await other.post(`/v1/tickets/${ticketId}/reply`, { text: 'x' })).status).toBe(404);
  });

  it('a CR/LF in a reply subject is a 400 on both routes, never folded into a space and sent', async () => {
    const [t] = await ticketStoreOf(daemon).commit([sampleItem({ company: 'acme', contract: 'main', prefix: 'ACME', uid: 9002, messageId: 'orig-2@customer.example', subject: 'Scanner', action: 'keep', checkpoint: false })]);
    const ticketId = t!.ticketId;
    acmeSmtp.clear();
    const subject = 'Hi\r\nBcc: everyone@victim.example';
    for (const r of [await a.post(`/v1/tickets/${ticketId}/reply`, { subject, text: 'x' }), await a.post('/v1/messages', { company: 'acme', kind: 'user', ticket: ticketId, subject, text: 'x' })]) {
      expect(r.status).toBe(400);
      expect(r.body.details).toEqual([{ field: 'subject', message: 'subject must not contain CR or LF' }]);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(acmeSmtp.messages).toHaveLength(0);
  });
});

describe('failures', () => {
  it('4xx then accept: retried with backoff until the server takes it', async () => {
    flakySmtp.clear();
    flakySmtp.failNext(2, { code: 451, message: '4.7.1 Greylisted, try again later' }, 'data');
    const r = await a.post('/v1/messages', { company: 'acme', contract: 'flaky', kind: 'user', to: 'cliente@client.example', subject: 'Greylisted', text: 'x' });
    const s = await settled(r.body.id);
    expect(s).toMatchObject({ status: 'sent', attempts: 3, confirmed: true, possibleDuplicate: false });
    expect(flakySmtp.rejected.map((x) => x.code)).toEqual([451, 451]);
    expect(flakySmtp.messages).toHaveLength(1);
    expect((await parse(flakySmtp.messages[0]!.raw)).messageId).toBe(`<${r.body.messageId}>`);
  });

  it('5xx: failed at once, and the company is notified through the global default', async () => {
    flakySmtp.clear();
    defaultSmtp.clear();
    flakySmtp.failAlways({ code: 550, message: '5.1.1 <nobody@client.example>: user unknown' }, 'rcpt');
    try {
      const r = await a.post('/v1/messages', { company: 'acme', contract: 'flaky', kind: 'user', to: 'nobody@client.example', subject: 'Your invoice', text: 'x' });
      const s = await settled(r.body.id, 'failed');
      expect(s).toMatchObject({ status: 'failed', attempts: 1, pending: [] });
      expect(s.rejected).toEqual([{ address: 'nobody@client.example', code: 550, response: '550 5.1.1 <nobody@client.example>: user unknown' }]);
      const [n] = await defaultSmtp.waitFor(1);
      expect(n!.envelope).toEqual({ from: 'noreply@platform.example', to: ['ops@acme.example'] });
      const p = await parse(n!.raw);
      expect(p.subject).toBe('Delivery failed: Your invoice');
      expect(p.headers.get('auto-submitted')).toBe('auto-generated');
      expect(p.text).toContain(r.body.id);
      expect(p.text).toContain('nobody@client.example: 550 5.1.1');
      expect(flakySmtp.attempts.rcpt).toBe(1);
    } finally {
      flakySmtp.acceptAll();
    }
  });

  it('one recipient refused for good, another deferred: the deferred one is retried alone, the refusal notified', async () => {
    defaultSmtp.clear();
    const r = await a.post('/v1/messages', { company: 'acme', contract: 'mixed', kind: 'user', to: ['gone@client.example', 'later@client.example', 'ok@client.example'], subject: 'Mixed', text: 'x' });
    const s = await settled(r.body.id, 'sent');
    expect(s.accepted.sort()).toEqual(['later@client.example', 'ok@client.example']);
    expect(s.rejected).toEqual([{ address: 'gone@client.example', code: 550, response: '550 5.1.1 gone' }]);
    expect(s.attempts).toBe(2);
    expect(mixedSmtp.messages.map((m) => m.envelope.to)).toEqual([['ok@client.example'], ['later@client.example']]);
    const [n] = await defaultSmtp.waitFor(1);
    expect((await parse(n!.raw)).subject).toBe('Delivery failed: Mixed');
  });

  it('a server that never answers holds up only its own mailbox', async () => {
    acmeSmtp.clear();
    const dead = await Promise.all(
      [1, 2, 3, 4].map((i) => a.post('/v1/messages', { company: 'acme', contract: 'dead', kind: 'user', to: `x${i}@client.example`, subject: `stuck ${i}`, text: 'x' })),
    );
    await waitFor(() => held.length >= 2, 5000, 'connections to the silent server');
    const t0 = Date.now();
    const r = await a.post('/v1/messages', { company: 'acme', contract: 'main', kind: 'user', to: 'fast@client.example', subject: 'Not delayed', text: 'x' });
    await acmeSmtp.waitFor(1, 5000);
    expect(Date.now() - t0).toBeLessThan(3000);
    for (const d of dead) expect(['sending', 'queued']).toContain((await a.get(`/v1/messages/${d.body.id}`)).body.status);
    expect((await a.get(`/v1/messages/${r.body.id}`)).body.status).toBe('sent');
  });
});

describe('batching and rate limits', () => {
  it('batchWindow groups new mail and releases it together', async () => {
    batchSmtp.clear();
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await a.post('/v1/messages', { company: 'acme', contract: 'batched', kind: 'user', to: `b${i}@client.example`, subject: `batch ${i}`, text: 'x' });
    await new Promise((r) => setTimeout(r, 900));
    expect(batchSmtp.messages).toHaveLength(0);
    await batchSmtp.waitFor(3, 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
  });

  it('maxPerMinute: the third message of the minute waits', async () => {
    limitSmtp.clear();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await a.post('/v1/messages', { company: 'acme', contract: 'limited', kind: 'user', to: `l${i}@client.example`, subject: `limited ${i}`, text: 'x' })).body.id);
    await limitSmtp.waitFor(2, 5000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(limitSmtp.messages).toHaveLength(2);
    expect((await a.get(`/v1/messages/${ids[2]}`)).body.status).toBe('queued');
  });
});

describe('metrics', () => {
  it('counts sends per mailbox and result, and the queue depth', async () => {
    const text = await (await fetch(`http://127.0.0.1:${daemon.http.address()!.port}/metrics`)).text();
    expect(text).toMatch(/mailroom_outbound_sent_total\{mailbox="acme-out",result="sent"\} [1-9]/);
    expect(text).toMatch(/mailroom_outbound_sent_total\{mailbox="flaky-out",result="retry"\} [1-9]/);
    expect(text).toMatch(/mailroom_outbound_sent_total\{mailbox="flaky-out",result="failed"\} 1/);
    expect(text).toMatch(/mailroom_outbox_queue_depth [0-9]+/);
  });
});
