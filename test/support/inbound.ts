// Helpers for the inbound integration tests (test/integration/inbound-*.test.ts): start an
// in-process daemon on a test config, read every ticket of its store, trigger a poll and wait until
// it has completed, inspect a Dovecot mailbox over the public IMAP port.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { Daemon } from '../../src/daemon/daemon.js';
import type { MailboxStatus } from '../../src/inbound/status.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Ticket, TicketSummary } from '../../src/store/index.js';
import type { TicketStore } from '../../src/store/ticket-store.js';
import type { Dovecot, DovecotUser } from '../peers/dovecot.js';
import { waitFor } from './daemon-config.js';

/** Dovecot users `<name>` with password `secret-<name>`. */
export function makeUsers(names: string[]): DovecotUser[] {
  return names.map((user) => ({ user, password: `secret-${user}` }));
}

export interface TestDaemonOptions {
  /** Backoff of the pollers; default 100 ms .. 1 s so failure tests stay fast. */
  backoff?: { baseMs?: number; maxMs?: number };
  logLevel?: string;
  /** Log lines (parsed JSON) are pushed here, at `logLevel` (default info when given). */
  logLines?: Record<string, unknown>[];
  /** Parse worker threads (default 0: parse in-process); >0 for the daemon's real worker pool. */
  parseWorkers?: number;
}

/** An in-process daemon on `configDir` (parsing in-process unless `parseWorkers`, small backoff, warnings only). */
export async function startTestDaemon(configDir: string, opts: TestDaemonOptions = {}): Promise<Daemon> {
  const daemon = new Daemon({
    configPath: configDir,
    logger: opts.logLines
      ? createLogger(opts.logLevel ?? 'info', { write: (line: string) => void opts.logLines!.push(JSON.parse(line) as Record<string, unknown>) })
      : createLogger(opts.logLevel ?? process.env.MAILROOM_TEST_LOG_LEVEL ?? 'silent'),
    parseWorkers: opts.parseWorkers ?? 0,
    pollerOptions: { backoff: opts.backoff ?? { baseMs: 100, maxMs: 1000 } },
  });
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop().catch(() => undefined);
    throw err;
  }
  return daemon;
}

/** Summaries of every durable ticket (all pages). */
export function ticketSummaries(store: TicketStore): TicketSummary[] {
  const out: TicketSummary[] = [];
  let cursor: string | null = null;
  do {
    const page = store.listTickets({ companies: '*', limit: 1000, cursor });
    out.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return out;
}

/** Every durable ticket with its articles. */
export async function allTickets(store: TicketStore): Promise<Ticket[]> {
  const out: Ticket[] = [];
  for (const s of ticketSummaries(store)) {
    const t = await store.getTicket(s.id);
    if (!t) throw new Error(`ticket ${s.id} listed but not readable`);
    out.push(t);
  }
  return out;
}

/** How many times each value occurs. */
export function counts<T>(values: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** Values that occur more than once. */
export function duplicates<T>(values: T[]): T[] {
  return [...counts(values)].filter(([, n]) => n > 1).map(([v]) => v);
}

export function statusOf(daemon: Daemon, mailbox: string): MailboxStatus {
  const s = daemon.supervisor?.statuses().find((x) => x.mailbox === mailbox);
  if (!s) throw new Error(`no status for mailbox ${mailbox}`);
  return s;
}

/** Completed (successful) polls of a mailbox so far, from mailroom_poll_duration_seconds_count. */
export async function successfulPolls(daemon: Daemon, mailbox: string): Promise<number> {
  const { values } = await daemon.metrics.pollDuration.get();
  const v = values.find((x) => x.metricName === 'mailroom_poll_duration_seconds_count' && x.labels.mailbox === mailbox);
  return v?.value ?? 0;
}

/**
 * Make the mailbox poll `times` more times (pollNow, repeated while a poll is already running) and
 * wait until each has completed successfully.
 */
export async function pollAgain(daemon: Daemon, mailbox: string, times = 1, timeoutMs = 15_000): Promise<void> {
  for (let i = 0; i < times; i++) {
    const before = await successfulPolls(daemon, mailbox);
    await waitFor(
      async () => {
        if ((await successfulPolls(daemon, mailbox)) > before) return true;
        daemon.supervisor?.poller(mailbox)?.pollNow();
        return false;
      },
      timeoutMs,
      `another successful poll of ${mailbox}`,
    );
  }
}

/** An imapflow client logged in as `user` on Dovecot's plain IMAP port (for folder operations). */
export async function withImap<T>(dovecot: Dovecot, user: string, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const u = dovecot.users.find((x) => x.user === user);
  if (!u) throw new Error(`unknown Dovecot user ${user}`);
  const client = new ImapFlow({ host: dovecot.host, port: dovecot.ports.imap, secure: false, doSTARTTLS: false, auth: { user, pass: u.password }, logger: false });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** Dovecot's login lines for `user` on listener `port`; a TLS-secured one contains `TLS`. */
export async function loginLines(dovecot: Dovecot, user: string, port: number): Promise<string[]> {
  await dovecot.logins(user); // waits until the log file stops growing
  const text = await readFile(dovecot.logFile, 'latin1');
  return text.split('\n').filter((l) => /(imap|pop3)-login: (Info: )?Login: /.test(l) && l.includes(`user=<${user}>`) && new RegExp(`\\blport=${port}\\b`).test(l));
}

/** PIDs of the processes of one Dovecot instance (process titles `dovecot-<instance>/<service>`). */
async function instancePids(dovecot: Dovecot): Promise<number[]> {
  const { stdout } = await promisify(execFile)('ps', ['-eo', 'pid=,args=']);
  const tag = `dovecot-${basename(dovecot.dir)}/`;
  return stdout
    .split('\n')
    .filter((l) => l.includes(tag))
    .map((l) => Number.parseInt(l.trim(), 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/**
 * Stop Dovecot like a real server restart does: `dovecot.stop()` ends the master, but sessions that
 * are already logged in (imap, and imap-login proxying a STARTTLS connection) are left running as
 * orphans and keep serving. End those too (SIGTERM: they say BYE), by PID, only of this instance.
 */
export async function stopDovecotHard(dovecot: Dovecot): Promise<void> {
  await dovecot.stop();
  for (const pid of await instancePids(dovecot)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await waitFor(async () => (await instancePids(dovecot)).length === 0, 10_000, 'Dovecot sessions gone');
}

/** A message of about `bytes` (a base64 attachment), Message-ID `<id>`. */
export function bigMessage(id: string, bytes: number): Buffer {
  const b64 = Buffer.alloc(Math.ceil((bytes * 3) / 4), 0x42).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: Big Sender <big@bulk.example>',
      'To: suporte@acme.example',
      `Subject: Big one ${id}`,
      `Message-ID: <${id}@bulk.example>`,
      'X-Keep-This-Header: yes',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="big"',
      '',
      '--big',
      'Content-Type: text/plain',
      '',
      'see attachment',
      '--big',
      'Content-Type: application/octet-stream; name="dump.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '--big--',
      '',
    ].join('\r\n'),
  );
}

/** RSS in MB, for printing. */
export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 1024 / 1024);
}
