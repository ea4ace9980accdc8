// Issue 4, "Done means": threading end to end through a real Dovecot and the Daemon — a question, a
// reply by References, a reply by subject tag, and a CC copy of the question (same Message-ID) read
// from a second mailbox of the same company: one ticket, three articles. And the loop fixtures
// appended to a mailbox become tickets / articles with their flags recorded; a burst is held.
import { ticketStoreOf } from '../support/store-of.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/daemon.js';
import type { Article, Ticket } from '../../src/store/index.js';
import { LOOP_FIXTURES } from '../fixtures/loops/expected.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { waitFor, writeTestConfig } from '../support/daemon-config.js';
import { allTickets, makeUsers, pollAgain, startTestDaemon, ticketSummaries } from '../support/inbound.js';

const LOOPS = join(import.meta.dirname, '../fixtures/loops');
const LOOP_FLAGS = new Set(['auto-reply', 'bounce', 'bulk', 'list', 'own-message', 'loop']);

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['desk1', 'desk2', 'batch', 'loops']) });
});
afterAll(async () => {
  await dovecot?.destroy();
});

function mail(h: { from?: string; to?: string; cc?: string; subject: string; messageId: string; inReplyTo?: string; references?: string; body: string }): string {
  return [
    `From: ${h.from ?? 'Maria Souza <maria@cliente.example>'}`,
    `To: ${h.to ?? 'Suporte ACME <suporte@acme.example>'}`,
    ...(h.cc ? [`Cc: ${h.cc}`] : []),
    `Subject: ${h.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: ${h.messageId}`,
    ...(h.inReplyTo ? [`In-Reply-To: ${h.inReplyTo}`] : []),
    ...(h.references ? [`References: ${h.references}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    h.body,
    '',
  ].join('\r\n');
}

const only = async (daemon: Daemon): Promise<Ticket> => {
  const all = await allTickets(ticketStoreOf(daemon));
  expect(all).toHaveLength(1);
  return all[0]!;
};
const checkpointUid = (daemon: Daemon, mailbox: string) => ticketStoreOf(daemon).getCheckpoint(mailbox, 'INBOX')?.uid ?? 0;

describe('threading through Dovecot', () => {
  let daemon: Daemon | undefined;
  afterAll(async () => {
    await daemon?.stop();
  });

  it('question, reply by References, reply by subject tag, CC copy in a second mailbox: one ticket, three articles', async () => {
    const cfg = await writeTestConfig(dovecot, [
      { id: 'desk1', user: 'desk1', protocol: 'imap' },
      { id: 'desk2', user: 'desk2', protocol: 'imap', security: 'starttls' },
    ]);
    daemon = await startTestDaemon(cfg.dir);
    const store = ticketStoreOf(daemon);

    // 1. the question, read from desk1; it also went (Cc) to the address behind desk2
    const question = mail({ subject: 'Printer on 3rd floor is offline', messageId: '<q-thread-1@mail.cliente.example>', cc: 'ti@acme.example', body: 'The printer HP-3F-01 is offline.' });
    await dovecot.append('desk1', question);
    await waitFor(() => ticketSummaries(store).length === 1, 15_000, 'the question ticket');
    const id = ticketSummaries(store)[0]!.id;
    expect(id).toBe('ACME-000001');

    // 2. a reply that carries only References (no In-Reply-To), the question's id among others
    await dovecot.append(
      'desk1',
      mail({ subject: 'Re: Printer on 3rd floor is offline', messageId: '<r-thread-1@mail.cliente.example>', references: '<unknown-1@elsewhere.example> <q-thread-1@mail.cliente.example>', body: 'Any news?' }),
    );
    await waitFor(() => store.findByTicketId(id)?.articleCount === 2, 15_000, 'the reply by References');

    // 3. a reply from someone else who only kept the ticket tag in the subject
    await dovecot.append(
      'desk1',
      mail({ from: 'Joana <joana@cliente.example>', subject: `RE: [${id}] Printer on 3rd floor is offline`, messageId: '<r-thread-2@mail.cliente.example>', body: 'Still offline.' }),
    );
    await waitFor(() => store.findByTicketId(id)?.articleCount === 3, 15_000, 'the reply by subject tag');

    // 4. the Cc copy of the question (same Message-ID) read from desk2: the same article, not a new one
    await dovecot.append('desk2', question);
    await waitFor(() => checkpointUid(daemon!, 'desk2') >= 1, 15_000, 'desk2 to have read its copy');
    await pollAgain(daemon, 'desk1');
    await pollAgain(daemon, 'desk2');

    const t = await only(daemon);
    expect(t.id).toBe(id);
    expect(t.company).toBe('acme');
    expect(t.articles.map((a) => [a.no, a.messageId, a.mailbox])).toEqual([
      [1, 'q-thread-1@mail.cliente.example', 'desk1'],
      [2, 'r-thread-1@mail.cliente.example', 'desk1'],
      [3, 'r-thread-2@mail.cliente.example', 'desk1'],
    ]);
    expect(t.articleCount).toBe(3);
    // the copy is remembered as an alias of article 1, so it is never read as new again
    expect(t.articles[0]!.dedupeKeys.some((k) => k.startsWith('imap:desk2:'))).toBe(true);
    for (const a of t.articles) expect(a.flags.filter((f) => LOOP_FLAGS.has(f))).toEqual([]);
    // Joana was on no article and acme claims no domain: her tag-only reply joins, but is marked;
    // the reply by References (not guessable) is not
    expect(t.articles.map((a) => a.flags.includes('thread-unverified-sender'))).toEqual([false, false, true]);
  });

  it('a question and its reply arriving in the same poll batch thread as well', async () => {
    await dovecot.appendMany('batch', [
      mail({ subject: 'VPN down', messageId: '<q-batch@cliente.example>', body: 'VPN is down.' }),
      mail({ subject: 'Other matter', messageId: '<other-batch@cliente.example>', body: 'Unrelated.' }),
      mail({ subject: 'Re: VPN down', messageId: '<r-batch@cliente.example>', inReplyTo: '<q-batch@cliente.example>', references: '<q-batch@cliente.example>', body: 'Works again.' }),
    ]);
    const cfg = await writeTestConfig(dovecot, [{ id: 'batch', user: 'batch', protocol: 'imap' }]);
    const d = await startTestDaemon(cfg.dir);
    try {
      await waitFor(() => checkpointUid(d, 'batch') >= 3, 15_000, 'all three read');
      await waitFor(() => ticketSummaries(ticketStoreOf(d)).reduce((n, t) => n + t.articleCount, 0) >= 3, 10_000, 'three articles listed');
      const tickets = await allTickets(ticketStoreOf(d));
      expect(tickets.map((t) => [t.subject, t.articles.map((a) => a.messageId)]).sort()).toEqual([
        ['Other matter', ['other-batch@cliente.example']],
        ['VPN down', ['q-batch@cliente.example', 'r-batch@cliente.example']],
      ]);
    } finally {
      await d.stop();
    }
  });
});

describe('loop fixtures through Dovecot', () => {
  it('become tickets and articles with their flags recorded; a burst from one sender is held', async () => {
    const fixtures = Object.keys(LOOP_FIXTURES).filter((f) => f !== 'burst-template.eml');
    const template = readFileSync(join(LOOPS, 'burst-template.eml'), 'utf8');
    const BURST = 7;
    const LIMIT = 4;
    const burst = Array.from({ length: BURST }, (_, i) => template.replaceAll('{{n}}', String(i + 1)));
    await dovecot.appendMany('loops', [...fixtures.map((f) => readFileSync(join(LOOPS, f))), ...burst]);
    const total = fixtures.length + BURST;

    const cfg = await writeTestConfig(dovecot, [{ id: 'loops', user: 'loops', protocol: 'imap' }], { defaults: { inbound: { senderRateLimit: LIMIT } } });
    const logLines: Record<string, unknown>[] = [];
    const daemon = await startTestDaemon(cfg.dir, { logLines });
    try {
      // the checkpoint can be ahead of what the store lists (only durable tickets are listed)
      await waitFor(() => checkpointUid(daemon, 'loops') >= total, 20_000, `all ${total} messages read`);
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).reduce((n, t) => n + t.articleCount, 0) >= total, 10_000, `${total} articles listed`);
      const tickets = await allTickets(ticketStoreOf(daemon));
      const articles = new Map<string, { a: Article; t: Ticket }>();
      for (const t of tickets) for (const a of t.articles) articles.set(a.messageId ?? '', { a, t });
      expect(articles.size).toBe(total);
      const loopFlags = (a: Article) => a.flags.filter((f) => LOOP_FLAGS.has(f)).sort();

      const byFile: Record<string, string[]> = {};
      for (const f of fixtures) {
        const mid = /^Message-ID:\s*<([^>]+)>/im.exec(readFileSync(join(LOOPS, f), 'utf8'))![1]!;
        const hit = articles.get(mid);
        expect(hit, f).toBeDefined();
        byFile[f] = loopFlags(hit!.a);
      }
      expect(byFile).toEqual(Object.fromEntries(fixtures.map((f) => [f, [...LOOP_FIXTURES[f]!].sort()])));

      // marked mail still becomes a ticket (open): marking is not dropping
      const ndr = articles.get('3f6a1c2e-1111-4bd2-9a0e-6b2f0c9d1e77@SN6PR04MB4477.namprd04.prod.outlook.example')!;
      expect(ndr.t.status).toBe('open');
      expect(ndr.a.no).toBe(1);

      // the person's reply to mailroom's own message joins that message's ticket, unmarked
      const reply = articles.get('CAF5678efgh@mail.cliente.example')!;
      expect(reply.a.no).toBe(2);
      expect(reply.t.articles[0]!.messageId).toBe('k8f3x9q2.mailroom@acme.example');

      // the burst: the first LIMIT tickets are open, the rest held and flagged loop
      const burstArticles = Array.from({ length: BURST }, (_, i) => articles.get(`printer-event-${i + 1}@cliente.example`)!);
      expect(burstArticles.map((x) => x.t.status)).toEqual([...Array(LIMIT).fill('open'), ...Array(BURST - LIMIT).fill('held')]);
      expect(burstArticles.map((x) => loopFlags(x.a))).toEqual([...Array(LIMIT).fill([]), ...Array(BURST - LIMIT).fill(['loop'])]);
      // the reason of the hold is kept on the article and logged (info, with the mailbox)
      expect(burstArticles.map((x) => x.a.flags.includes('held:sender-rate'))).toEqual([...Array(LIMIT).fill(false), ...Array(BURST - LIMIT).fill(true)]);
      const held = logLines.filter((l) => l.msg === 'ticket held for approval');
      expect(held).toHaveLength(BURST - LIMIT);
      expect(held[0]).toMatchObject({ level: 'info', mailbox: 'loops', holds: ['sender-rate'] });
      expect(String(held[0]!.reasons)).toMatch(/more than 4 new tickets from printer-3f@cliente\.example/);
      // other senders were not held
      expect(tickets.filter((t) => t.status === 'held').map((t) => t.from?.address)).toEqual(Array(BURST - LIMIT).fill('printer-3f@cliente.example'));
    } finally {
      await daemon.stop();
    }
  });
});
