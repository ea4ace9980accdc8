// Acknowledgements, called directly as the ingest pipeline will call them: the reply arrives through
// the contract's mailbox with Auto-Submitted and threading headers; never to auto-replies, bounces,
// lists, bulk mail, loops, our own mail or no-reply addresses; capped per sender.
import { startOutboundIn } from '../support/outbox.js';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadFromSources } from '../../src/config/load.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { parseMessage } from '../../src/ingest/parse.js';
import type { ParsedMessage } from '../../src/ingest/parsed-message.js';
import { createLogger } from '../../src/observability/logger.js';
import { acknowledge, ackDecision, ACK_PER_MAILBOX_PER_HOUR, ACK_PER_SENDER_PER_HOUR, type AcknowledgeInput } from '../../src/outbound/acknowledge.js';
import { startOutbound, type Outbox } from '../../src/outbound/index.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { waitFor } from '../support/daemon-config.js';
import { parse, writeOutboundConfig } from './outbound-support.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/mail');
let contractSmtp: SmtpPeer;
let inboundSmtp: SmtpPeer;
let snap: Snapshot;
let outbox: Outbox;
let root: string;
const log = createLogger('silent');

beforeAll(async () => {
  [contractSmtp, inboundSmtp] = await Promise.all([startSmtpServer(), startSmtpServer()]);
  const cfg = await writeOutboundConfig({});
  root = cfg.root;
  const pwFile = path.join(cfg.secretsDir, 'desk');
  await writeFile(pwFile, 'desk-password\n');
  const text = stringify({
    version: 1,
    store: { path: cfg.dataDir },
    companies: {
      acme: {
        ticketPrefix: 'ACME',
        acknowledge: { subject: 'We received your request: {{subject}}', text: 'Hello {{from.name}},\n\nyour request {{ticket.id}} was received.\n' },
        contracts: {
          main: { outbound: 'acme-out' },
          special: { inbound: ['desk-in'], acknowledge: { subject: 'Contract special got it', text: 'Special: {{ticket.id}}' } },
        },
      },
      quiet: { acknowledge: { enabled: false, subject: 's', text: 't' }, contracts: { c: { outbound: 'acme-out' } } },
      silent: { contracts: { c: { outbound: 'acme-out' } } },
    },
    mailboxes: {
      'acme-out': { address: 'suporte@acme.example', outbound: { host: '127.0.0.1', port: contractSmtp.port, security: 'none', from: { name: 'Suporte ACME', address: 'suporte@acme.example' } } },
      'desk-in': {
        address: 'desk@acme.example',
        auth: { user: 'desk', passwordFile: pwFile },
        inbound: { protocol: 'imap', host: '127.0.0.1', port: 1, security: 'none' },
        outbound: { host: '127.0.0.1', port: inboundSmtp.port, security: 'none', from: { name: 'ACME Desk', address: 'desk@acme.example' } },
      },
    },
  });
  const r = loadFromSources([{ name: 'ack.yaml', absolute: '/ack.yaml', text }], { env: {} });
  expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
  snap = r.snapshot!;
  outbox = await startOutboundIn(snap.store.path, { snapshot: () => snap, log }, { initialBackoffMs: 100, maxBackoffMs: 200 });
});

afterAll(async () => {
  await outbox?.stop();
  await Promise.all([contractSmtp?.close(), inboundSmtp?.close()]);
  await rm(root, { recursive: true, force: true });
});

const ctx = () => ({ snapshot: snap, outbox, log });

async function mail(headers: string[], body = 'Please help.'): Promise<ParsedMessage> {
  const raw = [...headers, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', body, ''].join('\r\n');
  return parseMessage(Buffer.from(raw));
}

const customer = (i: number | string, extra: string[] = []) =>
  mail([`From: Maria Souza <maria${i}@client.example>`, 'To: suporte@acme.example', `Subject: Printer ${i} is offline`, `Message-ID: <req-${i}@client.example>`, 'References: <earlier@client.example>', ...extra]);

const input = (parsed: ParsedMessage, over: Partial<AcknowledgeInput> = {}): AcknowledgeInput => ({ ticketId: 'ACME-000123', company: 'acme', contract: 'main', mailbox: 'desk-in', parsed, flags: [], ...over });

describe('acknowledge', () => {
  it('sends the company template through the contract mailbox, auto-replied, threaded, tagged', async () => {
    contractSmtp.clear();
    const r = await acknowledge(ctx(), input(await customer(1, ['Reply-To: Maria at home <maria.home@client.example>'])));
    expect(r.status).toBe('queued');
    const [m] = await contractSmtp.waitFor(1);
    expect(m!.envelope).toEqual({ from: 'suporte@acme.example', to: ['maria.home@client.example'] });
    const p = await parse(m!.raw);
    expect(p.subject).toBe('We received your request: Printer 1 is offline [ACME-000123]');
    expect(p.text).toContain('Hello Maria Souza,');
    expect(p.text).toContain('your request ACME-000123 was received.');
    expect(p.headers.get('auto-submitted')).toBe('auto-replied');
    expect(p.headers.get('x-auto-response-suppress')).toBe('All');
    expect(p.inReplyTo).toBe('<req-1@client.example>');
    expect(p.references).toEqual(['<earlier@client.example>', '<req-1@client.example>']);
    expect(p.messageId).toMatch(/\.mailroom@acme\.example>$/);
    const e = outbox.get((r as { id: string }).id)!;
    expect(e).toMatchObject({ purpose: 'acknowledgement', ticket: 'ACME-000123', mailbox: 'acme-out' });
  });

  it("a contract's own template; without a contract outbound, through the mailbox the request came in on", async () => {
    inboundSmtp.clear();
    const r = await acknowledge(ctx(), input(await customer(2), { contract: 'special' }));
    expect(r.status).toBe('queued');
    const [m] = await inboundSmtp.waitFor(1);
    const p = await parse(m!.raw);
    expect(p.subject).toBe('Contract special got it [ACME-000123]');
    expect(p.from?.value[0]?.address).toBe('desk@acme.example');
  });

  it('never to auto-replies, bounces, lists, bulk mail, loops, held or dropped mail, no-reply or own addresses', async () => {
    const fixture = async (name: string) => parseMessage(await readFile(path.join(fixtures, name)));
    const cases: [string, AcknowledgeInput][] = [
      ['auto-reply', input(await fixture('auto-reply.eml'))],
      ['bounce', input(await fixture('bounce-dsn.eml'))],
      ['list', input(await customer('l', ['List-Id: <team.lists.client.example>']))],
      ['bulk', input(await customer('b', ['Precedence: bulk']))],
      ['own-message', input(await mail(['From: someone@client.example', 'Subject: x', 'Message-ID: <abc123.mailroom@acme.example>']))],
      ['loop', input(await customer('x'), { flags: ['loop'] })],
      ['held', input(await customer('h'), { flags: ['held'] })],
      ['rejected', input(await customer('rj'), { flags: ['rejected'] })],
      ['dropped', input(await customer('d'), { flags: ['dropped:rule'] })],
      ['no-reply-address', input(await mail(['From: Shop <no-reply@shop.example>', 'Subject: Order', 'Message-ID: <o@shop.example>']))],
      ['own-address', input(await mail(['From: Desk <desk@acme.example>', 'Subject: Fwd', 'Message-ID: <f@acme.example>']))],
      ['no-sender-address', input(await mail(['Subject: anonymous', 'Message-ID: <n@x.example>']))],
      ['disabled', input(await customer('q'), { company: 'quiet', contract: 'c' })],
      ['not-configured', input(await customer('s'), { company: 'silent', contract: 'c' })],
    ];
    const before = outbox.live + contractSmtp.messages.length + inboundSmtp.messages.length;
    for (const [reason, inp] of cases) {
      expect(ackDecision(snap, inp), reason).toEqual({ skip: reason });
      expect(await acknowledge(ctx(), inp), reason).toEqual({ status: 'skipped', reason });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(outbox.live + contractSmtp.messages.length + inboundSmtp.messages.length).toBe(before);
  });

  it(`at most ${ACK_PER_SENDER_PER_HOUR} per sender per hour`, async () => {
    const results: string[] = [];
    for (let i = 0; i < ACK_PER_SENDER_PER_HOUR + 2; i++) {
      const r = await acknowledge(ctx(), input(await mail(['From: Loopy <loopy@client.example>', `Subject: again ${i}`, `Message-ID: <loopy-${i}@client.example>`]), { ticketId: `ACME-00020${i}` }));
      results.push(r.status === 'skipped' ? r.reason : r.status);
    }
    expect(results).toEqual([...Array(ACK_PER_SENDER_PER_HOUR).fill('queued'), 'rate-capped', 'rate-capped']);
    expect((await acknowledge(ctx(), input(await customer('other')))).status).toBe('queued');
  });

  it('a global cap per mailbox: distinct senders (each under its own cap) stop getting acknowledgements past it', async () => {
    const capped = { ...ctx(), ackPerMailboxPerHour: 3 };
    const results: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await acknowledge(capped, input(await mail([`From: Forged ${i} <forged${i}@spoof.example>`, `Subject: hello ${i}`, `Message-ID: <forged-${i}@spoof.example>`]), { ticketId: `ACME-00030${i}`, mailbox: 'flooded-box' }));
      results.push(r.status === 'skipped' ? r.reason : r.status);
    }
    expect(results).toEqual(['queued', 'queued', 'queued', 'mailbox-rate-capped', 'mailbox-rate-capped']);
    expect(ACK_PER_MAILBOX_PER_HOUR).toBe(100);
  });

  it('a template cannot inject headers: the rendered subject is one line', async () => {
    contractSmtp.clear();
    const parsed = await customer('inj');
    parsed.subject = 'Hi\r\nBcc: victim@example.com';
    const r = await acknowledge(ctx(), input(parsed, { ticketId: 'ACME-000999' }));
    expect(r.status).toBe('queued');
    const all = await waitFor(() => contractSmtp.messages.find((x) => x.envelope.to.includes('mariainj@client.example')), 5000, 'the acknowledgement');
    expect(all.envelope.to).toEqual(['mariainj@client.example']);
    expect((await parse(all.raw)).subject).toBe('We received your request: Hi Bcc: victim@example.com [ACME-000999]');
  });
});
