// Issue 3, "Done means" 3 and 4: a wrong password is classified as auth (with a clear message that
// does not contain the password) while other mailboxes keep ingesting; a stopped and restarted
// Dovecot sends the mailbox into backoff (class tcp) and it recovers on its own; the server's
// private-CA certificate is refused by default with a clear tls-class message and accepted with
// caFile or verifyCertificate: false.
import { ticketStoreOf } from '../support/store-of.js';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pop3Client } from '../../src/inbound/pop3-client.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { message, waitFor, writeTestConfig, type TestMailbox } from '../support/daemon-config.js';
import { makeUsers, pollAgain, startTestDaemon, statusOf, stopDovecotHard, ticketSummaries } from '../support/inbound.js';

const WRONG = 'Wr0ng-Passw0rd-xyzzy';

describe('wrong password', () => {
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: makeUsers(['fine-imap', 'fine-pop', 'locked-imap', 'locked-pop']) });
  });
  afterAll(async () => {
    await dovecot?.destroy();
  });

  it('a refused POP3 login closes its connection at once (none left open until the server times out)', async () => {
    for (const security of ['none', 'starttls', 'tls'] as const) {
      // a relay in front of Dovecot sees when the client closes its side
      const port = security === 'tls' ? dovecot.ports.pop3s : dovecot.ports.pop3;
      let clientClosed = false;
      const relay = createServer((c) => {
        const up = connect(port, '127.0.0.1');
        c.pipe(up).on('error', () => undefined);
        up.pipe(c).on('error', () => undefined);
        c.on('error', () => undefined);
        up.on('error', () => undefined);
        c.on('close', () => {
          clientClosed = true;
          up.destroy();
        });
      });
      await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
      try {
        const relayPort = (relay.address() as AddressInfo).port;
        await expect(
          Pop3Client.connect({ host: '127.0.0.1', port: relayPort, security, tls: { ca: await readFile(dovecot.caFile) }, credentials: { user: 'locked-pop', pass: WRONG }, timeoutMs: 20_000 }),
        ).rejects.toThrow();
        await waitFor(() => clientClosed, 1_000, `${security}: the client closing its connection`);
      } finally {
        await new Promise<void>((r) => relay.close(() => r()));
      }
    }
  });

  it('is classified as auth with a clear message without the password; the other mailboxes keep ingesting', async () => {
    await dovecot.appendMany('fine-imap', [message(1, { subject: 'fine-imap 1' }), message(2, { subject: 'fine-imap 2' })]);
    await dovecot.appendMany('fine-pop', [message(1, { subject: 'fine-pop 1' })]);
    await dovecot.appendMany('locked-imap', [message(1, { subject: 'never read imap' })]);
    await dovecot.appendMany('locked-pop', [message(1, { subject: 'never read pop' })]);
    const cfg = await writeTestConfig(dovecot, [
      { id: 'fine-imap', user: 'fine-imap', protocol: 'imap', security: 'tls' },
      { id: 'fine-pop', user: 'fine-pop', protocol: 'pop3', security: 'starttls' },
      { id: 'locked-imap', user: 'locked-imap', protocol: 'imap', security: 'tls', password: WRONG },
      { id: 'locked-pop', user: 'locked-pop', protocol: 'pop3', security: 'tls', password: WRONG },
    ]);
    const daemon = await startTestDaemon(cfg.dir);
    try {
      for (const id of ['locked-imap', 'locked-pop']) {
        // several attempts: it keeps retrying with backoff (the password may be fixed any time)
        await waitFor(() => statusOf(daemon, id).consecutiveFailures >= 2, 15_000, `${id} failing twice`);
        const s = statusOf(daemon, id);
        console.log(`${id}: ${JSON.stringify(s.lastError)}`);
        expect(s.lastError?.class, JSON.stringify(s.lastError)).toBe('auth');
        expect(s.lastError!.message).toMatch(/auth|login|credentials/i);
        expect(s.lastError!.hint).toMatch(/credentials/);
        for (const secret of [WRONG, `secret-${id}`]) expect(JSON.stringify(s)).not.toContain(secret);
        expect(s.lastSuccess).toBeNull();
      }
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 3, 15_000, 'the good mailboxes ingested');
      // while the locked ones keep failing, new mail for the others still arrives
      await dovecot.append('fine-imap', message(3, { subject: 'fine-imap 3' }));
      await dovecot.append('fine-pop', message(2, { subject: 'fine-pop 2' }));
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 5, 15_000, 'later mail of the good mailboxes');
      await pollAgain(daemon, 'fine-imap');
      await pollAgain(daemon, 'fine-pop');
      expect(ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject).sort()).toEqual(['fine-imap 1', 'fine-imap 2', 'fine-imap 3', 'fine-pop 1', 'fine-pop 2']);
      for (const id of ['fine-imap', 'fine-pop']) expect(statusOf(daemon, id).lastError).toBeNull();
      const metrics = await daemon.metrics.registry.metrics();
      expect(metrics).toMatch(/mailroom_ingest_errors_total\{mailbox="locked-imap",class="auth"\} [1-9]/);
      expect(metrics).not.toContain(WRONG);
    } finally {
      await daemon.stop();
    }
  });
});

describe('Dovecot stopped and restarted', () => {
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: makeUsers(['bounce-imap', 'bounce-idle', 'bounce-pop']) });
  });
  afterAll(async () => {
    await dovecot?.destroy();
  });

  it('goes to backoff with class tcp while it is down and recovers on its own', async () => {
    const ids = ['bounce-imap', 'bounce-idle', 'bounce-pop'] as const;
    for (const id of ids) await dovecot.append(id, message(1, { subject: `${id} before` }));
    const cfg = await writeTestConfig(dovecot, [
      { id: 'bounce-imap', user: 'bounce-imap', protocol: 'imap', security: 'starttls' },
      { id: 'bounce-idle', user: 'bounce-idle', protocol: 'imap', security: 'tls', inbound: { idle: true, pollInterval: '60s' } },
      { id: 'bounce-pop', user: 'bounce-pop', protocol: 'pop3', security: 'tls' },
    ]);
    const daemon = await startTestDaemon(cfg.dir, { backoff: { baseMs: 200, maxMs: 1000 } });
    try {
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 3, 15_000, 'first tickets');
      await stopDovecotHard(dovecot);
      for (const id of ids) {
        await waitFor(() => statusOf(daemon, id).lastError?.class === 'tcp' && statusOf(daemon, id).state === 'backoff', 15_000, `${id} in backoff with class tcp`);
        expect(statusOf(daemon, id).nextAttemptAt).not.toBeNull();
      }
      const downAt = Date.now();
      await dovecot.restart();
      for (const id of ids) await dovecot.append(id, message(2, { subject: `${id} after` }));
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 6, 20_000, 'mail after the restart');
      for (const id of ids) {
        const s = statusOf(daemon, id);
        expect(s.consecutiveFailures).toBe(0);
        expect(Date.parse(s.lastSuccess!)).toBeGreaterThan(downAt);
        expect(s.lastError?.class).toBe('tcp'); // the last error stays visible for status
      }
      expect(ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject).sort()).toEqual(ids.flatMap((id) => [`${id} after`, `${id} before`]).sort());
    } finally {
      await daemon.stop();
    }
  });
});

describe('private-CA certificate', () => {
  let dovecot: Dovecot;
  const refused: TestMailbox[] = [
    { id: 'ca-imap-tls', user: 'certs', protocol: 'imap', security: 'tls', inbound: { caFile: null } },
    { id: 'ca-imap-starttls', user: 'certs', protocol: 'imap', security: 'starttls', inbound: { caFile: null } },
    { id: 'ca-pop-tls', user: 'certs', protocol: 'pop3', security: 'tls', inbound: { caFile: null } },
    { id: 'ca-pop-stls', user: 'certs', protocol: 'pop3', security: 'starttls', inbound: { caFile: null } },
  ];
  beforeAll(async () => {
    dovecot = await startDovecot({ users: makeUsers(['certs', 'ca-ok-imap', 'ca-ok-pop', 'nov-imap', 'nov-pop']) });
  });
  afterAll(async () => {
    await dovecot?.destroy();
  });

  it('is refused by default (no caFile) with a clear tls-class message, and nothing is read', async () => {
    await dovecot.append('certs', message(1, { subject: 'must not be read' }));
    const cfg = await writeTestConfig(dovecot, refused);
    const daemon = await startTestDaemon(cfg.dir);
    try {
      for (const m of refused) {
        await waitFor(() => statusOf(daemon, m.id).lastError !== null, 15_000, `${m.id} error`);
        const e = statusOf(daemon, m.id).lastError!;
        console.log(`${m.id}: ${JSON.stringify(e)}`);
        expect(e.class, `${m.id}: ${e.message}`).toBe('tls');
        expect(e.message, m.id).toMatch(/certificate/i);
        expect(e.hint).toMatch(/caFile/);
      }
      expect(ticketSummaries(ticketStoreOf(daemon))).toEqual([]);
      expect(await dovecot.logins('certs')).toBe(0); // never sent the password over an unverified channel
    } finally {
      await daemon.stop();
    }
  });

  it('is accepted with caFile, or with verifyCertificate: false', async () => {
    const mbs: TestMailbox[] = [
      { id: 'ca-ok-imap', user: 'ca-ok-imap', protocol: 'imap', security: 'tls' },
      { id: 'ca-ok-pop', user: 'ca-ok-pop', protocol: 'pop3', security: 'starttls' },
      { id: 'nov-imap', user: 'nov-imap', protocol: 'imap', security: 'starttls', inbound: { caFile: null, verifyCertificate: false } },
      { id: 'nov-pop', user: 'nov-pop', protocol: 'pop3', security: 'tls', inbound: { caFile: null, verifyCertificate: false } },
    ];
    for (const m of mbs) await dovecot.append(m.user, message(1, { subject: `${m.id} ok` }));
    const cfg = await writeTestConfig(dovecot, mbs);
    const daemon = await startTestDaemon(cfg.dir);
    try {
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= mbs.length, 15_000, 'one ticket per mailbox');
      expect(ticketSummaries(ticketStoreOf(daemon)).map((t) => t.subject).sort()).toEqual(mbs.map((m) => `${m.id} ok`).sort());
      for (const m of mbs) expect(statusOf(daemon, m.id).lastError).toBeNull();
    } finally {
      await daemon.stop();
    }
  });
});
