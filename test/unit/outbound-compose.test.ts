// Message building and the pure helpers around it: headers per kind and sendAs, header injection
// refused, addresses checked, threading headers, subject tags, the request schema, and the
// classification of SMTP failures by the server's reply first.
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import type { ResolvedOutbound } from '../../src/config/snapshot.js';
import { classifyMessage } from '../../src/ingest/classify.js';
import { checkAddress, checkHeaderText, isValidEmail, MessageInputError } from '../../src/outbound/address.js';
import { compose, replyReferences, replySubject, taggedSubject } from '../../src/outbound/compose.js';
import { classifySendError, recipientIsPermanent, retryDelay } from '../../src/outbound/errors.js';
import { toSubmitInput, validateMessageBody, validateReplyBody } from '../../src/outbound/message-request.js';

const server = (over: Partial<ResolvedOutbound> = {}): ResolvedOutbound => ({
  mailbox: 'acme-out',
  transport: 'smtp',
  apiUrl: null,
  host: 'smtp.acme.example',
  port: 587,
  security: 'starttls',
  verifyCertificate: true,
  caFile: null,
  auth: null,
  from: { name: 'ACME Suporte', address: 'suporte@acme.com.br' },
  sendAs: 'mailbox',
  timeoutMs: 180_000,
  batchWindowMs: 0,
  maxPerMinute: null,
  maxConnections: 5,
  ...over,
});

const person = { name: 'Ana Souza', address: 'ana@acme.com.br' };
const to = [{ name: 'Cliente', address: 'cliente@client.example' }];

describe('compose', () => {
  it('sendAs mailbox: From mailbox, Reply-To person, envelope from the mailbox, Bcc never in a header', async () => {
    const c = await compose({ server: server(), kind: 'user', person, to, bcc: [{ name: '', address: 'audit@acme.com.br' }], subject: 'Ação necessária', text: 'olá' });
    const p = await simpleParser(c.raw);
    expect(p.from?.value).toEqual([{ name: 'ACME Suporte', address: 'suporte@acme.com.br' }]);
    expect(p.replyTo?.value).toEqual([person]);
    expect(p.headers.get('sender')).toBeUndefined();
    expect(c.raw.toString()).not.toMatch(/audit@/);
    expect(c.envelope).toEqual({ from: 'suporte@acme.com.br', to: ['cliente@client.example', 'audit@acme.com.br'] });
    expect(p.subject).toBe('Ação necessária');
    expect(p.date).toBeInstanceOf(Date);
  });

  it('sendAs user: From person, Sender mailbox; no Sender when the person is the mailbox', async () => {
    const c = await compose({ server: server({ sendAs: 'user' }), kind: 'user', person, to, subject: 's', text: 't' });
    const p = await simpleParser(c.raw);
    expect(p.from?.value).toEqual([person]);
    expect((p.headers.get('sender') as { value: unknown[] }).value).toEqual([{ name: 'ACME Suporte', address: 'suporte@acme.com.br' }]);
    const same = await compose({ server: server({ sendAs: 'user' }), kind: 'user', person: { name: 'Desk', address: 'SUPORTE@acme.com.br' }, to, subject: 's', text: 't' });
    expect((await simpleParser(same.raw)).headers.get('sender')).toBeUndefined();
  });

  it('system mail has no person in it', async () => {
    const c = await compose({ server: server({ sendAs: 'user' }), kind: 'system', person, to, subject: 's', text: 't' });
    const p = await simpleParser(c.raw);
    expect(p.from?.value[0]?.address).toBe('suporte@acme.com.br');
    expect(p.replyTo).toBeUndefined();
    expect(p.headers.get('sender')).toBeUndefined();
  });

  it("Message-ID is `<random>.mailroom@<sender domain>`, unique, and ingest knows it as mailroom's own", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add((await compose({ server: server(), kind: 'system', to, subject: 's', text: 't' })).messageId);
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]{20,}\.mailroom@acme\.com\.br$/);
    const [id] = ids;
    expect(classifyMessage({ headers: {}, contentType: 'text/plain', from: null, messageId: id!, subject: '', inReplyTo: [], references: [] })).toEqual(['own-message']);
  });

  it('threading headers and internal headers', async () => {
    const c = await compose({ server: server(), kind: 'user', to, subject: 'Re: x [ACME-000123]', text: 't', inReplyTo: 'b@client.example', references: ['a@client.example', 'b@client.example'], headers: { 'Auto-Submitted': 'auto-replied' } });
    const p = await simpleParser(c.raw);
    expect(p.inReplyTo).toBe('<b@client.example>');
    expect(p.references).toEqual(['<a@client.example>', '<b@client.example>']);
    expect(p.headers.get('auto-submitted')).toBe('auto-replied');
  });

  it('refuses header injection everywhere a header is built', async () => {
    const base = { server: server(), kind: 'user' as const, to, text: 't' };
    await expect(compose({ ...base, subject: 'a\r\nBcc: x@y.example' })).rejects.toThrow('subject must not contain CR or LF');
    await expect(compose({ ...base, subject: 'a\nb' })).rejects.toThrow(MessageInputError);
    await expect(compose({ ...base, subject: 'ok', attachments: [{ filename: 'x\r\n.pdf', content: Buffer.from('x') }] })).rejects.toThrow('attachments[0].filename must not contain CR or LF');
    await expect(compose({ ...base, subject: 'ok', headers: { 'X-A': 'v\r\nBcc: y' } })).rejects.toThrow(/CR or LF/);
    expect(() => checkAddress('to[0]', { name: 'Eve\r\nBcc: x@y.example', address: 'eve@client.example' })).toThrow('to[0].name must not contain CR or LF');
    expect(() => checkAddress('to', 'eve@client.example\r\nBcc: x@y.example')).toThrow('to.address must not contain CR or LF');
    expect(() => checkHeaderText('subject', 'tab\tis fine')).not.toThrow();
    expect(() => checkHeaderText('subject', 'nul\u0000')).toThrow('control characters');
  });

  it('validates addresses', () => {
    for (const ok of ['a@b.example', 'first.last+tag@sub.example.com.br', 'josé@exemplo.com.br', "o'brien@x.example"]) expect(isValidEmail(ok), ok).toBe(true);
    for (const bad of ['', 'plain', '@x.example', 'a@', 'a@b', 'a b@c.example', 'a@b..example', '.a@b.example', 'a..b@c.example', 'a@-b.example', '<a@b.example>', 'a@b.example,c@d.example'])
      expect(isValidEmail(bad), bad).toBe(false);
  });

  it('needs a sender address and a recipient', async () => {
    await expect(compose({ server: server({ from: { name: '', address: '' } }), kind: 'system', to, subject: 's' })).rejects.toThrow(/sender address/);
    expect((await compose({ server: server({ from: { name: '', address: '' }, auth: { user: 'login@acme.com.br', password: null, oauth2: null } }), kind: 'system', to, subject: 's' })).envelope.from).toBe('login@acme.com.br');
    await expect(compose({ server: server(), kind: 'system', to: [], subject: 's' })).rejects.toThrow(/recipient/);
  });

  it('subject tags and reply references', () => {
    expect(taggedSubject('Printer broken', 'ACME-000123')).toBe('Printer broken [ACME-000123]');
    expect(taggedSubject('Re: Printer [ACME-000123] broken', 'ACME-000123')).toBe('Re: Printer [ACME-000123] broken');
    expect(replySubject('Printer')).toBe('Re: Printer');
    expect(replySubject('RE: Printer')).toBe('RE: Printer');
    expect(replySubject('AW: Drucker')).toBe('AW: Drucker');
    expect(replyReferences(['a', 'b'], 'c')).toEqual(['a', 'b', 'c']);
    expect(replyReferences(['a', 'a', 'bad id'], null)).toEqual(['a']);
    const long = Array.from({ length: 40 }, (_, i) => `r${i}@x`);
    const r = replyReferences(long, 'me@x', 20);
    expect(r).toHaveLength(20);
    expect(r[0]).toBe('r0@x');
    expect(r.at(-1)).toBe('me@x');
  });
});

describe('request schema (schemas/api/message.json)', () => {
  it('accepts the documented shapes', () => {
    const v = validateMessageBody({ company: 'acme', kind: 'user', to: 'a@b.example', subject: 's', text: 't', from: { name: 'Ana', address: 'ana@acme.example' }, cc: [{ address: 'c@d.example' }], attachments: [{ filename: 'a.pdf', contentType: 'application/pdf', content: 'JVBERi0=' }] });
    expect(v.ok).toBe(true);
    if (v.ok) {
      const s = toSubmitInput(v.value, 'key');
      expect(s.to).toEqual(['a@b.example']);
      expect(s.attachments?.[0]?.content.toString()).toBe('%PDF-');
      expect(s.idempotencyKey).toBe('key');
    }
    expect(validateMessageBody({ company: 'acme', kind: 'user', ticket: 'ACME-000123', text: 'reply' }).ok).toBe(true);
    expect(validateReplyBody({}).ok).toBe(true);
  });

  it('101 recipients: the count is named, not "must be an e-mail address" from the one-address branch', () => {
    const to = Array.from({ length: 101 }, (_, i) => `r${i}@x.example`);
    const v = validateMessageBody({ company: 'acme', kind: 'user', to, cc: to.slice(0, 100), subject: 's', text: 't' });
    expect(v.ok ? [] : v.problems).toEqual([{ field: 'to', message: 'must list at most 100 (it lists 101)' }]);
    const empty = validateMessageBody({ company: 'acme', kind: 'user', to: [], subject: 's', text: 't' });
    expect(empty.ok ? [] : empty.problems).toEqual([{ field: 'to', message: 'must list at least 1 (it lists 0)' }]);
  });

  it('names each problem by field, without echoing values', () => {
    const v = validateMessageBody({ company: 'acme', kind: 'robot', to: ['nope'], subject: '', bogus: 'secret-value', attachments: [{ filename: 'a', content: '!!!' }] });
    expect(v.ok).toBe(false);
    if (!v.ok) {
      const byField = Object.fromEntries(v.problems.map((p) => [p.field, p.message]));
      expect(byField).toMatchObject({
        kind: 'must be one of user, system',
        'to[0]': 'must be an e-mail address (local@domain)',
        subject: expect.stringContaining('fewer than 1'),
        bogus: 'is not a known field',
        'attachments[0].content': 'must be base64',
      });
      expect(JSON.stringify(v.problems)).not.toContain('secret-value');
    }
    const missing = validateMessageBody({ company: 'acme', kind: 'user' });
    expect(missing.ok ? [] : missing.problems.map((p) => p.field).sort()).toEqual(['subject', 'to']);
    const ticket = validateMessageBody({ company: 'acme', kind: 'user', ticket: 'not-a-ticket' });
    expect(ticket.ok ? [] : ticket.problems).toEqual([{ field: 'ticket', message: 'must be a ticket id such as ACME-000123' }]);
  });
});

describe('SMTP failures, by the reply code first', () => {
  const e = (o: Record<string, unknown>) => Object.assign(new Error(String(o.message ?? 'x')), o);
  it.each([
    [{ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 unknown user', command: 'RCPT TO' }, 'permanent', false],
    [{ code: 'EMESSAGE', responseCode: 554, response: '554 5.7.1 spam', command: 'DATA' }, 'permanent', false],
    [{ code: 'EMESSAGE', responseCode: 451, response: '451 4.7.1 greylisted', command: 'DATA' }, 'temporary', false],
    [{ code: 'EENVELOPE', responseCode: 452, response: '452 4.2.2 full', command: 'RCPT TO' }, 'temporary', false],
    [{ code: 'EPROTOCOL', responseCode: 503, response: '503 bad sequence' }, 'temporary', false],
    [{ code: 'EENVELOPE', responseCode: 421, response: '421 4.3.2 shutting down' }, 'temporary', true],
    [{ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 bad credentials', command: 'AUTH PLAIN' }, 'mailbox', true],
    [{ code: 'EAUTH', message: 'Invalid login' }, 'mailbox', true],
    [{ code: 'ESOCKET', message: 'self-signed certificate in certificate chain' }, 'mailbox', true],
    [{ code: 'ETLS', message: 'STARTTLS failed' }, 'mailbox', true],
    [{ code: 'ECONNECTION', message: 'connect ECONNREFUSED 127.0.0.1:25' }, 'temporary', true],
    [{ code: 'ETIMEDOUT', message: 'Greeting never received' }, 'temporary', true],
    [{ code: 'EDNS', message: 'getaddrinfo ENOTFOUND smtp.nowhere.example' }, 'temporary', true],
    [{ code: 'ECONFIG', message: 'cannot read secret file /x (ENOENT)' }, 'mailbox', true],
  ] as const)('%o → %s', (err, cls, pause) => {
    const c = classifySendError(e(err));
    expect(c.class).toBe(cls);
    expect(c.pauseLane).toBe(pause);
  });

  it('never leaks credentials from a server message', () => {
    const c = classifySendError(e({ code: 'EAUTH', message: 'Invalid login: AUTHENTICATE PLAIN c2VjcmV0cGFzc3dvcmQ=' }));
    expect(c.message).not.toContain('c2VjcmV0cGFzc3dvcmQ=');
  });

  it('per recipient: 5xx final (not 503), 4xx retried', () => {
    expect([550, 553, 503, 450, 452, null].map(recipientIsPermanent)).toEqual([true, true, false, false, false, false]);
  });

  it('backoff grows, is capped, and keeps at least half of its ceiling (jitter)', () => {
    expect(retryDelay(1, 1000, 60_000, () => 0)).toBe(500);
    expect(retryDelay(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(retryDelay(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(retryDelay(30, 1000, 60_000, () => 0.999)).toBeLessThanOrEqual(60_000);
    expect(retryDelay(30, 1000, 60_000, () => 0)).toBe(30_000);
  });
});
