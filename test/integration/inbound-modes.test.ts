// Issue 3, "Done means" 1: IMAP and POP3 in every TLS mode against a real Dovecot: N messages in,
// N tickets out, each exactly once; every afterFetch mode verified on the server afterwards; `since`
// respected; a second poll and a daemon restart create nothing new (and the restarted daemon does
// keep ingesting, so "nothing new" is not vacuous). Issue 20: a different message reusing a
// Message-ID is kept (with afterFetch delete it would be gone), the same message twice is not doubled.
import { ticketStoreOf } from '../support/store-of.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/daemon.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { allTickets, duplicates, loginLines, makeUsers, pollAgain, startTestDaemon, statusOf, successfulPolls, ticketSummaries } from '../support/inbound.js';

interface Case {
  id: string;
  protocol: 'imap' | 'pop3';
  security: 'tls' | 'starttls' | 'none';
  afterFetch: 'keep' | 'seen' | 'move' | 'delete';
}

const CASES: Case[] = [
  { id: 'imap-tls-keep', protocol: 'imap', security: 'tls', afterFetch: 'keep' },
  { id: 'imap-starttls-seen', protocol: 'imap', security: 'starttls', afterFetch: 'seen' },
  { id: 'imap-none-move', protocol: 'imap', security: 'none', afterFetch: 'move' },
  { id: 'imap-tls-delete', protocol: 'imap', security: 'tls', afterFetch: 'delete' },
  { id: 'pop3-tls-keep', protocol: 'pop3', security: 'tls', afterFetch: 'keep' },
  { id: 'pop3-starttls-delete', protocol: 'pop3', security: 'starttls', afterFetch: 'delete' },
  { id: 'pop3-none-keep', protocol: 'pop3', security: 'none', afterFetch: 'keep' },
  { id: 'pop3-none-delete', protocol: 'pop3', security: 'none', afterFetch: 'delete' },
];
const N = 12;
const MOVE_TO = 'Processed/Inbound';

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers([...CASES.map((c) => c.id), 'imap-since', 'pop3-since', 'reuse-a', 'reuse-b']) });
});
afterAll(async () => {
  await dovecot?.destroy();
});

/** The server side after every message was ingested, per afterFetch mode. */
async function expectServerState(c: Case, subjects: string[]): Promise<void> {
  const inbox = await dovecot.list(c.id, 'INBOX');
  const sorted = (xs: (string | undefined)[]) => [...xs].sort();
  switch (c.afterFetch) {
    case 'keep':
      expect(sorted(inbox.map((m) => m.subject))).toEqual(sorted(subjects));
      // mailroom never relies on \Seen, and keep must not set it (POP3: Dovecot itself may mark RETR'd mail)
      if (c.protocol === 'imap') for (const m of inbox) expect(m.flags).not.toContain('\\Seen');
      break;
    case 'seen':
      expect(sorted(inbox.map((m) => m.subject))).toEqual(sorted(subjects));
      for (const m of inbox) expect(m.flags).toContain('\\Seen');
      break;
    case 'move': {
      expect(inbox).toEqual([]);
      const moved = await dovecot.list(c.id, MOVE_TO);
      expect(sorted(moved.map((m) => m.subject))).toEqual(sorted(subjects));
      break;
    }
    case 'delete':
      expect(inbox).toEqual([]);
      expect(await dovecot.folders(c.id)).toEqual(['INBOX']);
      break;
  }
}

async function expectExactlyOnce(daemon: Daemon, c: Case, subjects: string[]): Promise<void> {
  const tickets = await allTickets(ticketStoreOf(daemon));
  expect(tickets.map((t) => t.subject).sort()).toEqual([...subjects].sort());
  expect(duplicates(tickets.map((t) => t.subject))).toEqual([]);
  for (const t of tickets) {
    expect(t.articles).toHaveLength(1);
    expect(t.company).toBe('acme');
    expect(t.articles[0]!.mailbox).toBe(c.id);
    expect(t.articles[0]!.dedupeKeys.some((k) => k.startsWith(`${c.protocol}:${c.id}:`))).toBe(true);
  }
  expect(duplicates(tickets.flatMap((t) => t.articles.flatMap((a) => a.dedupeKeys)))).toEqual([]);
}

describe('each protocol × TLS mode × afterFetch', () => {
  it.concurrent.each(CASES)('$id: N in, N tickets out exactly once, afterFetch done, nothing new on re-poll or restart', async (c) => {
    const subjects = Array.from({ length: N }, (_, i) => `${c.id} request ${i}`);
    await dovecot.appendMany(c.id, subjects.map((subject, i) => message(i, { subject })));
    if (c.afterFetch === 'move') expect(await dovecot.folders(c.id)).not.toContain(MOVE_TO);
    const cfg = await writeTestConfig(dovecot, [
      { id: c.id, user: c.id, protocol: c.protocol, security: c.security, inbound: { afterFetch: c.afterFetch, batchSize: 5, ...(c.afterFetch === 'move' && { moveTo: MOVE_TO }) } },
    ]);

    let daemon = await startTestDaemon(cfg.dir);
    try {
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= N, 20_000, `${N} tickets`);
      // the server action follows the commit of each batch; wait for the last one
      await waitFor(() => ticketStoreOf(daemon).stats().pendingActions === 0 && statusOf(daemon, c.id).backlog === 0, 10_000, 'actions done');
      await pollAgain(daemon, c.id, 2);
      await expectExactlyOnce(daemon, c, subjects);
      await expectServerState(c, subjects);
      expect(statusOf(daemon, c.id).lastError).toBeNull();
      expect(statusOf(daemon, c.id).ingested).toBe(N);
    } finally {
      await daemon.stop();
    }

    // The security mode is what Dovecot saw: TLS for tls/starttls, none for none.
    const port = c.protocol === 'imap' ? (c.security === 'tls' ? dovecot.ports.imaps : dovecot.ports.imap) : c.security === 'tls' ? dovecot.ports.pop3s : dovecot.ports.pop3;
    const logins = await loginLines(dovecot, c.id, port);
    expect(logins.length).toBeGreaterThan(0);
    for (const l of logins) {
      if (c.security === 'none') expect(l).not.toMatch(/\bTLS\b/);
      else expect(l).toMatch(/\bTLS\b/);
    }

    // Restart on the same store: nothing new from what is (for keep: still) on the server ...
    daemon = await startTestDaemon(cfg.dir);
    try {
      await waitFor(async () => (await successfulPolls(daemon, c.id)) >= 1, 10_000, 'first poll after restart');
      await pollAgain(daemon, c.id);
      await expectExactlyOnce(daemon, c, subjects);
      // ... while a message that arrives now is still ingested (and acted on) exactly once.
      const late = `${c.id} late request`;
      await dovecot.append(c.id, message(99, { subject: late }));
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= N + 1, 15_000, 'the late message');
      await waitFor(() => ticketStoreOf(daemon).stats().pendingActions === 0, 10_000, 'actions done');
      await pollAgain(daemon, c.id);
      await expectExactlyOnce(daemon, c, [...subjects, late]);
      await expectServerState(c, [...subjects, late]);
    } finally {
      await daemon.stop();
    }
  });
});

describe('a reused Message-ID, afterFetch delete (issue 20)', () => {
  it('A then B with the same Message-ID: two tickets, B flagged; A again in a second mailbox: still one ticket for A', async () => {
    const mid = '<reused-1@buggy-mailer.example>';
    const date = 'Tue, 07 May 2024 10:11:12 +0000';
    const a = message(1, { subject: 'Printer offline', body: 'The printer on floor 2 is offline.', messageId: mid, date });
    const b = message(1, { subject: 'Invoice 2024-117 is wrong', body: 'The amount should be 1,200.', messageId: mid, date: 'Wed, 08 May 2024 09:00:00 +0000' });
    // the copy delivered to the second mailbox: other trace headers, same message
    const aCopy = `Return-Path: <customer1@client.example>\r\nDelivered-To: other-desk@acme.example\r\nReceived: from mx2.acme.example by imap.acme.example; ${date}\r\n${a}`;
    const cfg = await writeTestConfig(dovecot, [
      { id: 'reuse-a', user: 'reuse-a', protocol: 'imap', security: 'tls', inbound: { afterFetch: 'delete' } },
      { id: 'reuse-b', user: 'reuse-b', protocol: 'pop3', security: 'tls', inbound: { afterFetch: 'delete' } },
    ]);
    const logLines: Record<string, unknown>[] = [];
    const daemon = await startTestDaemon(cfg.dir, { logLines });
    const settled = async (mailbox: string) => {
      await waitFor(async () => (await dovecot.list(mailbox)).length === 0 && ticketStoreOf(daemon).stats().pendingActions === 0, 15_000, `${mailbox} emptied`);
      await pollAgain(daemon, mailbox);
    };
    try {
      await dovecot.append('reuse-a', a);
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 1, 15_000, 'ticket A');
      await settled('reuse-a');
      await dovecot.append('reuse-a', b);
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 2, 15_000, 'ticket B');
      await settled('reuse-a');
      await dovecot.append('reuse-b', aCopy);
      await settled('reuse-b');

      const tickets = await allTickets(ticketStoreOf(daemon));
      expect(tickets.map((t) => t.subject).sort()).toEqual(['Invoice 2024-117 is wrong', 'Printer offline']);
      const articles = tickets.flatMap((t) => t.articles);
      expect(articles).toHaveLength(2);
      const [artA, artB] = ['Printer offline', 'Invoice 2024-117 is wrong'].map((s) => articles.find((x) => x.subject === s)!);
      expect(artA!.flags).not.toContain('duplicate-message-id');
      expect(artB!.flags).toContain('duplicate-message-id');
      expect(artB!.text).toContain('1,200');
      // every fetched message is on an article: B's raw is referenced, A's second copy is an alias of A
      expect((await ticketStoreOf(daemon).blobs.get(artB!.rawRef!)).toString()).toContain('Invoice 2024-117');
      expect(artA!.dedupeKeys.some((k) => k.startsWith('pop3:reuse-b:'))).toBe(true);
      expect(logLines.some((l) => l.msg === 'Message-ID reused by a different message: kept as its own article')).toBe(true);
    } finally {
      await daemon.stop();
    }
  });
});

describe.concurrent('since', () => {
  const SINCE = '2023-06-01';
  const OLD = new Date('2021-03-04T10:00:00Z');

  it('IMAP: messages with an INTERNALDATE before `since` are not ingested, newer ones are', async () => {
    const user = 'imap-since';
    const expected: string[] = [];
    for (let i = 0; i < 8; i++) {
      const old = i % 2 === 0;
      const subject = `${user} ${old ? 'old' : 'new'} ${i}`;
      if (!old) expected.push(subject);
      // appended interleaved, so old messages also sit above the last ingested UID
      await dovecot.append(user, message(i, { subject, ...(old && { date: OLD.toUTCString() }) }), old ? { date: OLD } : {});
    }
    const cfg = await writeTestConfig(dovecot, [{ id: user, user, protocol: 'imap', security: 'starttls', inbound: { since: SINCE } }]);
    const daemon = await startTestDaemon(cfg.dir);
    try {
      await waitFor(async () => (await successfulPolls(daemon, user)) >= 1, 15_000, 'first poll');
      await pollAgain(daemon, user, 2);
      const subjects = ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject);
      expect(subjects.sort()).toEqual(expected.sort());
      expect((await dovecot.list(user)).length).toBe(8); // keep: old ones untouched on the server
    } finally {
      await daemon.stop();
    }
  });

  it('POP3: messages whose Date header is before `since` are not ingested, newer (and undated) ones are', async () => {
    const user = 'pop3-since';
    const raws: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 8; i++) {
      const old = i % 2 === 0;
      const subject = `${user} ${old ? 'old' : 'new'} ${i}`;
      if (!old) expected.push(subject);
      raws.push(message(i, { subject, ...(old && { date: OLD.toUTCString() }) }));
    }
    // no Date header at all: cannot be judged, so it is fetched rather than lost
    raws.push(message(8, { subject: `${user} undated` }).replace(/^Date: .*\r\n/m, ''));
    expected.push(`${user} undated`);
    await dovecot.appendMany(user, raws);
    const cfg = await writeTestConfig(dovecot, [{ id: user, user, protocol: 'pop3', security: 'tls', inbound: { since: SINCE, afterFetch: 'delete' } }]);
    const daemon = await startTestDaemon(cfg.dir);
    try {
      await waitFor(async () => (await successfulPolls(daemon, user)) >= 1, 15_000, 'first poll');
      await pollAgain(daemon, user, 2);
      expect(ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject).sort()).toEqual(expected.sort());
      // delete applies only to what was ingested: the old ones stay in the maildrop
      const left = (await dovecot.list(user)).map((m) => m.subject).sort();
      expect(left).toEqual([0, 2, 4, 6].map((i) => `${user} old ${i}`).sort());
    } finally {
      await daemon.stop();
    }
  });
});
