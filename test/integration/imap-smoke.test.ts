// Smoke: the daemon reads an IMAP mailbox of a real Dovecot into tickets, each exactly once.
import { ticketStoreOf } from '../support/store-of.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot();
});
afterAll(async () => {
  await dovecot?.destroy();
});

it('ingests N IMAP messages into N tickets and moves them', async () => {
  await dovecot.appendMany('alice', Array.from({ length: 25 }, (_, i) => message(i)));
  const cfg = await writeTestConfig(dovecot, [{ id: 'desk', user: 'alice', protocol: 'imap', inbound: { afterFetch: 'move', moveTo: 'Done' } }]);
  const daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('warn'), parseWorkers: 0 });
  await daemon.start();
  try {
    await waitFor(() => ticketStoreOf(daemon).stats().tickets === 25, 15_000, '25 tickets');
    await waitFor(async () => (await dovecot.list('alice', 'INBOX')).length === 0, 5_000, 'inbox emptied');
    expect((await dovecot.list('alice', 'Done')).length).toBe(25);
    expect(ticketStoreOf(daemon).stats().tickets).toBe(25);
  } finally {
    await daemon.stop();
  }
});

it('ingests POP3 over STLS with 8-bit bytes intact, deleting only after commit', async () => {
  const latin1 = Buffer.concat([
    Buffer.from('From: Jos\xe9 <jose@cliente.com.br>\r\nTo: desk@acme.example\r\nSubject: =?ISO-8859-1?Q?Solicita=E7=E3o?=\r\nMessage-ID: <pop-latin1@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n', 'latin1'),
    Buffer.from('N\xe3o foi poss\xedvel acessar.\r\n', 'latin1'),
  ]);
  await dovecot.append('bob', latin1);
  await dovecot.appendMany('bob', [message(1), message(2)]);
  const cfg = await writeTestConfig(dovecot, [{ id: 'pop', user: 'bob', protocol: 'pop3', security: 'starttls', inbound: { afterFetch: 'delete' } }]);
  const daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('warn'), parseWorkers: 0 });
  await daemon.start();
  try {
    await waitFor(() => ticketStoreOf(daemon).stats().tickets === 3, 15_000, '3 tickets');
    await waitFor(async () => (await dovecot.list('bob', 'INBOX')).length === 0, 5_000, 'maildrop emptied');
    const page = ticketStoreOf(daemon).listTickets({ companies: '*', limit: 10 });
    const t = await ticketStoreOf(daemon).getTicket(page.items.find((x) => x.subject === 'Solicitação')!.id);
    expect(t!.articles[0]!.text).toContain('Não foi possível acessar.');
    const raw = await ticketStoreOf(daemon).blobs.get(t!.articles[0]!.rawRef!);
    expect(raw.equals(latin1)).toBe(true);
  } finally {
    await daemon.stop();
  }
});
