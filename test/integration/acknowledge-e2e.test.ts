// Acknowledgement end to end: a message read from Dovecot opens a ticket and the customer gets
// "we received your request [ACME-…]" through the contract's mailbox, Auto-Submitted; an
// auto-reply opens a ticket too but gets no acknowledgement.
import { ticketStoreOf } from '../support/store-of.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { makeUsers } from '../support/inbound.js';
import { rawHeader } from './outbound-support.js';

let dovecot: Dovecot;
let smtp: SmtpPeer;
beforeAll(async () => {
  [dovecot, smtp] = await Promise.all([startDovecot({ users: makeUsers(['ack-desk']) }), startSmtpServer()]);
});
afterAll(async () => {
  await smtp?.close();
  await dovecot?.destroy();
});

it('acknowledges a new ticket through the contract mailbox, never an auto-reply', async () => {
  const cfg = await writeTestConfig(dovecot, [{ id: 'desk', user: 'ack-desk', protocol: 'imap', inbound: { idle: false } }]);
  // The same mailbox sends: its outbound side points at the SMTP peer.
  const { readFile, writeFile } = await import('node:fs/promises');
  const { parse, stringify } = await import('yaml');
  const file = `${cfg.dir}/mailroom.yaml`;
  const c = parse(await readFile(file, 'utf8'));
  c.mailboxes.desk.address = 'desk@acme.example';
  c.mailboxes.desk.outbound = { host: '127.0.0.1', port: smtp.port, security: 'none', from: { name: 'ACME Desk', address: 'desk@acme.example' }, timeout: '10s' };
  c.companies.acme.ticketPrefix = 'ACME';
  c.companies.acme.contracts.main.outbound = 'desk';
  c.companies.acme.contracts.main.acknowledge = { subject: 'We received your request [{{ticket.id}}]', text: 'Hello {{from.name}}, your request {{ticket.id}} is with us.' };
  await writeFile(file, stringify(c));

  await dovecot.append('ack-desk', message(1, { subject: 'My printer is on fire' }));
  await dovecot.append('ack-desk', message(2, { subject: 'Out of office' }).replace('MIME-Version', 'Auto-Submitted: auto-replied\r\nMIME-Version'));
  const daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  try {
    await waitFor(() => ticketStoreOf(daemon).stats().tickets === 2, 15_000, 'two tickets');
    await smtp.waitFor(1, 15_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(smtp.messages).toHaveLength(1); // none for the auto-reply
    const ack = smtp.messages[0]!;
    expect(ack.envelope.to).toEqual(['customer1@client.example']);
    expect(rawHeader(ack.raw, 'Auto-Submitted')).toBe('auto-replied');
    expect(rawHeader(ack.raw, 'Subject')).toMatch(/^We received your request \[ACME-\d{6}\]$/);
    expect(rawHeader(ack.raw, 'From')).toContain('desk@acme.example');
  } finally {
    await daemon.stop();
  }
});
