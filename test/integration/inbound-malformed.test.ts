// Issue 3, "Done means" 5 (and the size rule): malformed mail, appended to a real Dovecot and read
// over IMAP and POP3, becomes a ticket every time, crashes no poller, and is never fetched again;
// a later normal message still arrives. A message over maxMessageSize becomes a ticket flagged
// too-big with its headers, is never refetched, and its afterFetch is applied. Issue 20: a mail of
// hostile HTML no longer freezes the daemon when its ticket is read.
import { ticketStoreOf } from '../support/store-of.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/daemon.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { allTickets, bigMessage, makeUsers, pollAgain, startTestDaemon, statusOf, ticketSummaries } from '../support/inbound.js';

const FIXTURE_DIRS = [join(import.meta.dirname, '../fixtures/mail'), join(import.meta.dirname, '../fixtures/inbound')];

interface Sample {
  name: string;
  raw: Buffer;
}

function fixtures(): Sample[] {
  return FIXTURE_DIRS.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .map((f) => ({ name: f, raw: readFileSync(join(dir, f)) })),
  );
}

const crlf = (lines: string[]) => lines.join('\r\n');

/** Multipart nested `depth` levels deep, the text at the bottom. */
function deepNesting(depth: number): Buffer {
  let body = crlf(['Content-Type: text/plain; charset=utf-8', '', 'the innermost text', '']);
  for (let i = 0; i < depth; i++) body = crlf([`Content-Type: multipart/mixed; boundary="nest-${i}"`, '', `--nest-${i}`, body, `--nest-${i}--`, '']);
  return Buffer.from(crlf(['From: Deep <deep@nest.example>', 'To: suporte@acme.example', `Subject: Nested ${depth} levels deep`, 'Message-ID: <deep-nesting@nest.example>', 'MIME-Version: 1.0', body]));
}

/** ~400 KB of header: thousands of fields and one References field of 3,000 ids. */
function hugeHeaders(): Buffer {
  const trace = Array.from({ length: 4000 }, (_, i) => `X-Trace-${i}: ${'hop'.repeat(25)} ${i}`);
  const refs = `References: ${Array.from({ length: 3000 }, (_, i) => `<ref-${i}@huge.example>`).join('\r\n ')}`;
  return Buffer.from(crlf(['From: Huge <huge@huge.example>', 'To: suporte@acme.example', 'Subject: Huge headers', 'Message-ID: <huge-headers@huge.example>', ...trace, refs, 'Content-Type: text/plain', '', 'small body', '']));
}

/** Bytes that are no mail at all (deterministic), with line breaks so the server accepts them. */
function garbage(): Buffer {
  const b = Buffer.alloc(4096);
  let x = 12345;
  for (let i = 0; i < b.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = i % 70 === 69 ? 0x0a : (x >> 16) & 0xff;
  }
  return b;
}

function samples(): Sample[] {
  return [
    ...fixtures(),
    { name: 'generated: deep nesting (300)', raw: deepNesting(300) },
    { name: 'generated: huge headers', raw: hugeHeaders() },
    { name: 'generated: binary garbage', raw: garbage() },
    { name: 'generated: NUL bytes everywhere', raw: Buffer.from('From: nul@x.example\r\nSubject: N\0U\0L\r\nMessage-ID: <nul-everywhere@x.example>\r\n\r\n\0\0\0body\0\r\n', 'latin1') },
    { name: 'generated: too big', raw: bigMessage('too-big-keep', 1_500_000) },
  ];
}

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['mal-imap', 'mal-pop', 'big-imap', 'big-pop', 'html-imap']) });
});
afterAll(async () => {
  await dovecot?.destroy();
});

function syncedLines(lines: Record<string, unknown>[], mailbox: string): Record<string, unknown>[] {
  return lines.filter((l) => l.msg === 'mailbox synced' && l.mailbox === mailbox);
}

async function articlesOf(daemon: Daemon, mailbox: string) {
  return (await allTickets(ticketStoreOf(daemon))).flatMap((t) => t.articles.filter((a) => a.mailbox === mailbox).map((a) => ({ ticket: t, article: a })));
}

describe('malformed mail', () => {
  it('every message becomes a ticket over IMAP and POP3, the pollers keep going, nothing is fetched again', async () => {
    const all = samples();
    await dovecot.appendMany('mal-imap', all.map((s) => s.raw));
    await dovecot.appendMany('mal-pop', all.map((s) => s.raw));
    const uids = (await dovecot.list('mal-imap')).map((m) => m.uid);
    expect(uids).toHaveLength(all.length);
    // two companies, so the same Message-ID in both mailboxes makes two tickets (dedupe is per company)
    const cfg = await writeTestConfig(dovecot, [
      { id: 'mal-imap', user: 'mal-imap', protocol: 'imap', security: 'tls', company: 'imapco', inbound: { maxMessageSize: '1MB', batchSize: 7 } },
      { id: 'mal-pop', user: 'mal-pop', protocol: 'pop3', security: 'tls', company: 'popco', inbound: { maxMessageSize: '1MB', batchSize: 7 } },
    ]);
    const logLines: Record<string, unknown>[] = [];
    const daemon = await startTestDaemon(cfg.dir, { logLines });
    try {
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 2 * all.length, 60_000, `${2 * all.length} tickets`);
      for (const id of ['mal-imap', 'mal-pop']) {
        const arts = await articlesOf(daemon, id);
        expect(arts, id).toHaveLength(all.length);
        for (const { article } of arts) expect(article.rawRef, id).toMatch(/^[0-9a-f]{64}$/);
        const bySubject = (re: RegExp) => arts.filter((a) => re.test(a.article.subject));
        // spot checks of what came through the server and the pipeline
        expect(bySubject(/^Nested 300 levels deep$/)[0]?.article.text, `${id} deep`).toContain('the innermost text');
        expect(bySubject(/^Huge headers$/)[0]?.article.references.length, `${id} huge`).toBeGreaterThan(100);
        expect(bySubject(/^Problema no acesso$/)[0]?.article.text, `${id} latin1`).toContain('Não foi possível acessar');
        const big = bySubject(/^Big one too-big-keep$/)[0]!;
        expect(big.article.flags, `${id} big`).toContain('too-big');
        expect(big.article.headers['x-keep-this-header'], `${id} big headers`).toEqual(['yes']);
        expect(big.article.size).toBeGreaterThan(1_000_000);
        const raw = await ticketStoreOf(daemon).blobs.get(big.article.rawRef!);
        expect(raw.length, `${id}: only the headers of a too-big message are kept`).toBeLessThan(64 * 1024);
        expect(bySubject(/^Big one/).length).toBe(1);
        for (const a of arts) expect(a.ticket.company).toBe(id === 'mal-imap' ? 'imapco' : 'popco');
        // Dovecot serves NUL as 0x80 over IMAP, but POP3 hands the bytes over as stored: there the
        // NULs reach mailroom, and the raw is kept byte for byte
        const nul = arts.find((a) => a.article.messageId?.includes('nul-bytes@acme.example'));
        expect(nul, `${id} nul-bytes.eml`).toBeDefined();
        const nulRaw = await ticketStoreOf(daemon).blobs.get(nul!.article.rawRef!);
        if (id === 'mal-pop') expect(nulRaw.equals(all.find((s) => s.name === 'nul-bytes.eml')!.raw)).toBe(true);
        expect(nul!.article.text).toContain('continues');
        // ... and over IMAP the 0x80 that stands for a NUL in a part declared UTF-8 is at least marked
        if (id === 'mal-imap') expect(nul!.article.flags).toContain('parse:possible-nul-bytes');
        for (const { article } of arts) expect(article.flags, id).not.toContain('parse:unparsed'); // 'unparsed' once is enough
      }
      for (const id of ['mal-imap', 'mal-pop']) expect(statusOf(daemon, id).lastError, id).toBeNull();

      // Nothing is fetched again: further polls fetch nothing (no 'mailbox synced' line, which is
      // logged whenever a poll fetched anything, duplicates included), the IMAP checkpoint is at the
      // last UID and the POP3 backlog is empty.
      const before = { imap: syncedLines(logLines, 'mal-imap').length, pop: syncedLines(logLines, 'mal-pop').length };
      const fetched = (id: string) => syncedLines(logLines, id).reduce((n, l) => n + Number(l.fetched), 0);
      expect(fetched('mal-imap')).toBe(all.length);
      expect(fetched('mal-pop')).toBe(all.length);
      await pollAgain(daemon, 'mal-imap', 3);
      await pollAgain(daemon, 'mal-pop', 3);
      expect(syncedLines(logLines, 'mal-imap').length).toBe(before.imap);
      expect(syncedLines(logLines, 'mal-pop').length).toBe(before.pop);
      expect(statusOf(daemon, 'mal-imap').checkpoint).toMatchObject({ folder: 'INBOX', uid: Math.max(...uids) });
      expect(statusOf(daemon, 'mal-pop').backlog).toBe(0);
      expect(ticketSummaries(ticketStoreOf(daemon))).toHaveLength(2 * all.length);

      // and a normal message after all that still arrives
      await dovecot.append('mal-imap', message(1, { subject: 'normal after malformed' }));
      await dovecot.append('mal-pop', message(2, { subject: 'normal after malformed' }));
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).filter((t) => t.subject === 'normal after malformed').length === 2, 15_000, 'the normal messages');
      const errors = logLines.filter((l) => l.level === 'error' || l.level === 'fatal' || l.msg === 'poller loop crashed');
      expect(errors).toEqual([]);
    } finally {
      await daemon.stop();
    }
  });
});

describe('maxMessageSize', () => {
  it('a larger message becomes a too-big ticket with its headers, its afterFetch is applied, it is never refetched', async () => {
    const small = message(1, { subject: 'small next to a big one' });
    for (const user of ['big-imap', 'big-pop']) await dovecot.appendMany(user, [bigMessage(`${user}-1`, 400_000), small, bigMessage(`${user}-2`, 300_000)]);
    const cfg = await writeTestConfig(dovecot, [
      { id: 'big-imap', user: 'big-imap', protocol: 'imap', security: 'starttls', company: 'imapco', inbound: { maxMessageSize: '100KB', afterFetch: 'move', moveTo: 'Big' } },
      { id: 'big-pop', user: 'big-pop', protocol: 'pop3', security: 'starttls', company: 'popco', inbound: { maxMessageSize: '100KB', afterFetch: 'delete' } },
    ]);
    const logLines: Record<string, unknown>[] = [];
    const daemon = await startTestDaemon(cfg.dir, { logLines });
    try {
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 6, 20_000, '6 tickets');
      await waitFor(async () => (await dovecot.list('big-imap')).length === 0 && (await dovecot.list('big-pop')).length === 0, 10_000, 'afterFetch applied');
      expect((await dovecot.list('big-imap', 'Big')).length).toBe(3);
      for (const id of ['big-imap', 'big-pop']) {
        const arts = await articlesOf(daemon, id);
        expect(arts.map((a) => a.article.subject).sort()).toEqual([`Big one ${id}-1`, `Big one ${id}-2`, 'small next to a big one']);
        for (const { article } of arts) {
          const big = article.subject.startsWith('Big one');
          expect(article.flags.includes('too-big'), `${id} ${article.subject}`).toBe(big);
          if (!big) continue;
          expect(article.from?.address).toBe('big@bulk.example');
          expect(article.messageId).toMatch(/@bulk\.example>?$/);
          expect(article.headers['x-keep-this-header']).toEqual(['yes']);
          expect(article.attachments).toEqual([]);
          expect(article.text).toMatch(/message of \d+ bytes over maxMessageSize 102400: body not fetched/);
          expect(article.headers['x-mailroom-original-content-type']?.[0]).toMatch(/^multipart\/mixed/);
          expect((await ticketStoreOf(daemon).blobs.get(article.rawRef!)).length).toBeLessThan(2048);
        }
      }
      // The sync that committed the last ticket may still be finishing (POP3 QUIT, its log line).
      await waitFor(() => ['big-imap', 'big-pop'].every((id) => ['idle', 'idle-waiting'].includes(statusOf(daemon, id).state)), 10_000, 'pollers idle');
      const before = logLines.filter((l) => l.msg === 'mailbox synced').length;
      await pollAgain(daemon, 'big-imap', 2);
      await pollAgain(daemon, 'big-pop', 2);
      expect(logLines.filter((l) => l.msg === 'mailbox synced').length).toBe(before);
      expect(ticketSummaries(ticketStoreOf(daemon))).toHaveLength(6);
      const metrics = await daemon.metrics.registry.metrics();
      expect(metrics).toMatch(/mailroom_messages_ingested_total\{mailbox="big-imap"\} 3/);
      for (const id of ['big-imap', 'big-pop']) {
        expect(metrics).toMatch(new RegExp(`mailroom_messages_flagged_total\\{mailbox="${id}",flag="too-big"\\} 2`));
        const warned = logLines.filter((l) => l.level === 'warn' && l.mailbox === id && l.msg === 'message over maxMessageSize stored with its headers only');
        expect(warned, id).toHaveLength(2);
      }
    } finally {
      await daemon.stop();
    }
  });
});

describe('hostile HTML (issue 20)', () => {
  it("960 KB of nested tags: the ticket API answers within 1 s and /-/healthy within 100 ms meanwhile", async () => {
    const mail = (id: string, subject: string, html: string): Buffer =>
      Buffer.from(crlf(['From: Attacker <evil@attack.example>', 'To: suporte@acme.example', `Subject: ${subject}`, `Message-ID: <${id}@attack.example>`, 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '', html, '']));
    const hostile = mail('nested-b', 'Nested tags', '<b>'.repeat(320_000) + 'x'); // took 32 s to sanitise on the main thread
    const friendly = mail('friendly', 'Friendly HTML', '<p onclick="steal()">Hello <b>there</b></p><script>steal()</script>');
    await dovecot.appendMany('html-imap', [hostile, friendly]);
    const token = 'html-test-token-0123456789abcdef';
    const cfg = await writeTestConfig(dovecot, [{ id: 'html-imap', user: 'html-imap', protocol: 'imap', inbound: { afterFetch: 'delete' } }], {
      server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'test', token, companies: ['*'] }] },
    });
    const daemon = await startTestDaemon(cfg.dir, { parseWorkers: 1 }); // the daemon's real worker pool
    try {
      await waitFor(() => ticketSummaries(ticketStoreOf(daemon)).length >= 2, 30_000, '2 tickets');
      const base = `http://127.0.0.1:${daemon.http.address()!.port}`;
      const byTitle = new Map(ticketSummaries(ticketStoreOf(daemon)).map((t) => [t.subject, t.id]));
      const timed = async (path: string, auth: boolean): Promise<{ ms: number; res: Response; body: any }> => {
        const t0 = performance.now();
        const res = await fetch(base + path, auth ? { headers: { authorization: `Bearer ${token}` } } : {});
        const body = await res.json();
        return { ms: performance.now() - t0, res, body };
      };
      await timed('/-/healthy', false); // a warm connection: the probes measure a blocked event loop, not set-up
      const get = timed(`/v1/tickets/${byTitle.get('Nested tags')}`, true);
      const probes: { ms: number; res: Response }[] = [];
      let done = false;
      void get.finally(() => { done = true; });
      while (!done || probes.length < 3) probes.push(await timed('/-/healthy', false));
      const ticket = await get;
      expect(ticket.res.status).toBe(200);
      expect(ticket.ms).toBeLessThan(1000); // 32 s before issue 20
      // The event loop is never blocked by the GET: the median probe answers within 100 ms, and none
      // takes more than 500 ms (a probe on a loaded 2-core CI machine can be slow on its own; the
      // sanitising this guards against blocked it for 32 s).
      const why = JSON.stringify({ probes: probes.map((x) => Math.round(x.ms)), get: Math.round(ticket.ms) });
      for (const p of probes) {
        expect(p.res.status).toBe(200);
        expect(p.ms, why).toBeLessThan(500);
      }
      const sorted = probes.map((p) => p.ms).sort((a, b) => a - b);
      expect(sorted[Math.floor(sorted.length / 2)]!, why).toBeLessThan(100);
      const [article] = ticket.body.articles;
      expect(article.html).toBeNull();
      expect(article.text).toBe('x');
      expect(article.flags).toContain('html-too-large');
      // an ordinary HTML mail keeps its HTML, sanitised at ingest and stored with the article
      const ok = await timed(`/v1/tickets/${byTitle.get('Friendly HTML')}`, true);
      expect(ok.body.articles[0].html.trim()).toBe('<p>Hello <b>there</b></p>');
      const stored = (await allTickets(ticketStoreOf(daemon))).flatMap((t) => t.articles);
      expect(stored.find((a) => a.subject === 'Friendly HTML')?.safeHtml?.trim()).toBe('<p>Hello <b>there</b></p>');
    } finally {
      await daemon.stop();
    }
  });
});
