// Why this exists: proves the test peers themselves work (real Dovecot over IMAP/IMAPS/STARTTLS,
// POP3/STLS/POP3S, the private CA, byte-exact 8-bit messages, stop/restart, login counting,
// and the in-process SMTP server with scripted 451/550 replies) so that failures in the
// poller/sender suites point at mailroom, not at the harness. It also pins down how to get
// raw bytes out of node-pop3 (see pop3.ts).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import Pop3Command from 'node-pop3';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from './certs.js';
import { startDovecot, type Dovecot } from './dovecot.js';
import { connectPop3Stls, retrRaw, unstuffDots } from './pop3.js';
import { startSmtpServer, type SmtpPeer } from './smtp.js';

// 8-bit Latin-1 message (NOT valid UTF-8) with lines that need POP3 dot-stuffing.
const LATIN1 = Buffer.concat([
  Buffer.from(
    'From: =?iso-8859-1?q?Ren=E9?= <rene@example.com>\r\n' +
      'To: alice@example.com\r\n' +
      'Subject: caf\xe9 cr\xe8me\r\n' +
      'Message-ID: <latin1@example.com>\r\n' +
      'MIME-Version: 1.0\r\n' +
      'Content-Type: text/plain; charset=iso-8859-1\r\n' +
      'Content-Transfer-Encoding: 8bit\r\n' +
      '\r\n' +
      'Gr\xfc\xdfe aus K\xf6ln, \xe0 bient\xf4t!\r\n' +
      '.leading dot\r\n' +
      '..two dots\r\n' +
      '.\r\n' +
      'last line, then an empty line\r\n' +
      '\r\n',
    'latin1',
  ),
]);

function plainMessage(subject: string): string {
  return `From: sender@example.com\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.com>\r\n\r\nHello ${subject}\r\n`;
}

async function imapLogin(options: Partial<ImapFlowOptions> & Pick<ImapFlowOptions, 'port' | 'auth'>): Promise<ImapFlow> {
  const client = new ImapFlow({ host: '127.0.0.1', logger: false, connectionTimeout: 5000, ...options });
  client.on('error', () => {});
  await client.connect();
  return client;
}

function errText(err: unknown): string {
  const e = err as { code?: string; message?: string; responseText?: string };
  return `${e.code ?? ''} ${e.message ?? ''} ${e.responseText ?? ''}`;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

const TLS_VERIFY_ERROR = /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify the first certificate|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|unable to get local issuer certificate|self[- ]signed/i;

describe('Dovecot peer', () => {
  let d: Dovecot;
  let ca: Buffer;

  beforeAll(async () => {
    const t0 = Date.now();
    d = await startDovecot();
    console.info(`[peers] Dovecot started in ${Date.now() - t0} ms on ${JSON.stringify(d.ports)}`);
    ca = readFileSync(d.caFile);
    await d.append('alice', LATIN1);
    await d.append('alice', plainMessage('second'), { flags: ['\\Seen'], date: new Date('2024-02-03T04:05:06Z') });
  });

  afterAll(async () => {
    await d?.destroy();
  });

  it('IMAP with STARTTLS verifies against the private CA and logs in', async () => {
    const c = await imapLogin({ port: d.ports.imap, secure: false, doSTARTTLS: true, tls: { ca, servername: 'localhost' }, auth: { user: 'alice', pass: 'secret-alice' } });
    try {
      expect(c.secureConnection).toBe(true);
      const box = await c.mailboxOpen('INBOX');
      expect(box.exists).toBe(2);
    } finally {
      await c.logout();
    }
  });

  it('IMAPS verifies against the CA (IP SAN) and returns the exact 8-bit bytes', async () => {
    const c = await imapLogin({ port: d.ports.imaps, secure: true, tls: { ca }, auth: { user: 'alice', pass: 'secret-alice' } });
    try {
      await c.mailboxOpen('INBOX');
      const msg = await c.fetchOne('1', { uid: true, source: true }, { uid: true });
      expect(msg && msg.source && msg.source.equals(LATIN1)).toBe(true);
    } finally {
      await c.logout();
    }
    expect((await d.fetchRaw('alice', 'INBOX', 1)).equals(LATIN1)).toBe(true);
  });

  it('TLS verification fails without the CA (IMAPS and STARTTLS)', async () => {
    await expect(imapLogin({ port: d.ports.imaps, secure: true, auth: { user: 'alice', pass: 'secret-alice' } })).rejects.toSatisfy((e) => TLS_VERIFY_ERROR.test(errText(e)));
    await expect(imapLogin({ port: d.ports.imap, secure: false, doSTARTTLS: true, auth: { user: 'alice', pass: 'secret-alice' } })).rejects.toSatisfy((e) => TLS_VERIFY_ERROR.test(errText(e)));
  });

  it('IMAP refuses a wrong password', async () => {
    const err = await imapLogin({ port: d.ports.imap, secure: false, doSTARTTLS: false, auth: { user: 'alice', pass: 'wrong' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ authenticationFailed: true });
  });

  it('POP3 plain: UIDL, raw RETR is byte-exact while node-pop3 RETR() string is lossy', async () => {
    const pop = new Pop3Command({ host: d.host, port: d.ports.pop3, user: 'alice', password: 'secret-alice', timeout: 10_000 });
    try {
      const uidl = (await pop.UIDL()) as string[][];
      expect(uidl).toHaveLength(2);
      expect(uidl[0]?.[0]).toBe('1');
      expect(uidl[0]?.[1]).toMatch(/^[0-9A-F]{16}$/i); // pop3_uidl_format = %08Xu%08Xv
      // The library's string API decodes as UTF-8: 0xE9 etc. become U+FFFD and cannot be recovered.
      const lossy = await pop.RETR(1);
      expect(lossy).toContain('\ufffd');
      expect(Buffer.from(lossy, 'latin1').equals(LATIN1)).toBe(false);
      expect(Buffer.from(lossy, 'utf8').equals(LATIN1)).toBe(false);
      // command('RETR') hands out the raw (dot-stuffed, final-CRLF-stripped) stream.
      const [info, stream] = await pop.command('RETR', 1);
      expect(info).toBe(`${LATIN1.length} octets`);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const wire = Buffer.concat(chunks);
      expect(wire.toString('latin1')).toContain('\r\n..leading dot\r\n...two dots\r\n..\r\n');
      expect(Buffer.concat([unstuffDots(wire), Buffer.from('\r\n')]).equals(LATIN1)).toBe(true);
      // retrRaw() does all of that.
      expect((await retrRaw(pop, 1)).equals(LATIN1)).toBe(true);
      expect((await retrRaw(pop, 2)).toString()).toBe(plainMessage('second'));
    } finally {
      await pop.QUIT();
    }
  });

  it('POP3 STLS upgrades with the CA; fails verification without it', async () => {
    const pop = await connectPop3Stls({ host: d.host, port: d.ports.pop3, user: 'alice', password: 'secret-alice', tlsOptions: { ca } });
    try {
      expect(pop._socket && 'encrypted' in pop._socket && pop._socket.encrypted).toBe(true);
      expect(((await pop.UIDL()) as string[][]).map((r) => r[0])).toEqual(['1', '2']);
      expect((await retrRaw(pop, 1)).equals(LATIN1)).toBe(true);
    } finally {
      await pop.QUIT();
    }
    await expect(connectPop3Stls({ host: d.host, port: d.ports.pop3, user: 'alice', password: 'secret-alice' })).rejects.toSatisfy((e) => TLS_VERIFY_ERROR.test(errText(e)));
  });

  it('POP3S (implicit TLS) with the CA; without it verification fails', async () => {
    // node-pop3 sends host as SNI unless servername is given; Node warns about SNI = IP address.
    const pop = new Pop3Command({ host: d.host, port: d.ports.pop3s, tls: true, servername: 'localhost', tlsOptions: { ca }, user: 'alice', password: 'secret-alice', timeout: 10_000 });
    try {
      expect(await pop.STAT()).toMatch(/^2 \d+$/);
      expect((await retrRaw(pop, 1)).equals(LATIN1)).toBe(true);
    } finally {
      await pop.QUIT();
    }
    const bad = new Pop3Command({ host: d.host, port: d.ports.pop3s, tls: true, servername: 'localhost', user: 'alice', password: 'secret-alice', timeout: 10_000 });
    await expect(bad.STAT()).rejects.toSatisfy((e) => TLS_VERIFY_ERROR.test(errText(e)));
  });

  it('POP3 refuses a wrong password', async () => {
    const pop = new Pop3Command({ host: d.host, port: d.ports.pop3, user: 'alice', password: 'nope', timeout: 10_000 });
    await expect(pop.UIDL()).rejects.toThrow(/auth/i);
  });

  it('append/appendMany/list/folders/fetchRaw inspect server state', async () => {
    expect(await d.list('bob')).toEqual([]);
    expect(await d.list('bob', 'Does/Not/Exist')).toEqual([]);
    const raws = Array.from({ length: 300 }, (_, i) => plainMessage(`bulk ${i}`));
    await d.appendMany('bob', raws, { folder: 'Imported/Bulk' });
    const listed = await d.list('bob', 'Imported/Bulk');
    expect(listed).toHaveLength(300);
    expect(listed.map((m) => m.uid)).toEqual(raws.map((_, i) => i + 1));
    expect(listed.map((m) => m.subject)).toEqual(raws.map((_, i) => `bulk ${i}`));
    expect(listed[7]).toMatchObject({ uid: 8, flags: [], messageId: '<bulk7@example.com>', size: Buffer.byteLength(raws[7]!) });
    expect((await d.fetchRaw('bob', 'Imported/Bulk', 300)).toString()).toBe(raws[299]);
    await d.append('bob', plainMessage('flagged'), { folder: 'Later', flags: ['\\Flagged', '\\Seen'] });
    expect(await d.list('bob', 'Later')).toMatchObject([{ uid: 1, flags: ['\\Flagged', '\\Seen'], subject: 'flagged' }]);
    expect(await d.folders('bob')).toEqual(['INBOX', 'Imported', 'Imported/Bulk', 'Later']);
    const alice = await d.list('alice');
    expect(alice[1]).toMatchObject({ uid: 2, flags: ['\\Seen'], subject: 'second' });
  });

  it('logins() counts client IMAP+POP3 logins, not the helpers', async () => {
    expect(await d.logins('carol')).toBe(0);
    await d.append('carol', plainMessage('helper'));
    await d.list('carol');
    expect(await d.logins('carol')).toBe(0);
    const c = await imapLogin({ port: d.ports.imap, secure: false, doSTARTTLS: false, auth: { user: 'carol', pass: 'secret-carol' } });
    await c.logout();
    const pop = new Pop3Command({ host: d.host, port: d.ports.pop3s, tls: true, servername: 'localhost', tlsOptions: { ca }, user: 'carol', password: 'secret-carol' });
    await pop.STAT();
    await pop.QUIT();
    expect(await d.logins('carol')).toBe(2);
    // failed logins are not counted
    await imapLogin({ port: d.ports.imap, secure: false, doSTARTTLS: false, auth: { user: 'carol', pass: 'bad' } }).catch(() => {});
    expect(await d.logins('carol')).toBe(2);
    expect(await d.logins()).toBeGreaterThanOrEqual(2);
  });

  it('stop() then restart() keeps the mail, UIDs and the same ports', async () => {
    await d.appendMany('dave', [plainMessage('before restart 1'), plainMessage('before restart 2')]);
    const before = await d.list('dave');
    const pop = new Pop3Command({ host: d.host, port: d.ports.pop3, user: 'dave', password: 'secret-dave' });
    const uidlBefore = await pop.UIDL();
    await pop.QUIT();
    const ports = { ...d.ports };
    const loginsBefore = await d.logins('dave');

    await d.stop();
    expect(d.running).toBe(false);
    for (const p of Object.values(ports)) expect(await refused(p)).toBe(true);

    await d.restart();
    expect(d.running).toBe(true);
    expect(d.ports).toEqual(ports);
    expect(await d.list('dave')).toEqual(before);
    const pop2 = new Pop3Command({ host: d.host, port: d.ports.pop3, user: 'dave', password: 'secret-dave' });
    expect(await pop2.UIDL()).toEqual(uidlBefore);
    await pop2.QUIT();
    const c = await imapLogin({ port: d.ports.imaps, secure: true, tls: { ca }, auth: { user: 'dave', pass: 'secret-dave' } });
    await c.logout();
    expect(await d.logins('dave')).toBe(loginsBefore + 2);
  });
});

describe('SMTP peer', () => {
  const servers: SmtpPeer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  async function smtp(...args: Parameters<typeof startSmtpServer>): Promise<SmtpPeer> {
    const s = await startSmtpServer(...args);
    servers.push(s);
    return s;
  }

  it('receives a message sent by nodemailer with AUTH; wrong password gets 535', async () => {
    const s = await smtp({ auth: { user: 'mailer', pass: 'pw' } });
    const t = nodemailer.createTransport({ host: s.host, port: s.port, secure: false, auth: { user: 'mailer', pass: 'pw' } });
    await t.sendMail({ from: 'a@example.com', to: ['b@example.com', 'c@example.com'], subject: 'hello smtp', text: 'body' });
    const [m] = await s.waitFor(1, 2000);
    expect(m?.envelope).toEqual({ from: 'a@example.com', to: ['b@example.com', 'c@example.com'] });
    expect(m?.auth).toBe('mailer');
    expect(m?.secure).toBe(false);
    expect(m?.raw.toString()).toMatch(/^Subject: hello smtp\r$/m);
    const bad = nodemailer.createTransport({ host: s.host, port: s.port, secure: false, auth: { user: 'mailer', pass: 'nope' } });
    await expect(bad.sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x' })).rejects.toMatchObject({ responseCode: 535 });
    await expect(s.waitFor(2, 100)).rejects.toThrow(/expected 2/);
  });

  it('keeps raw 8-bit bytes and replies 451 for the first N tries, then accepts', async () => {
    const s = await smtp();
    const t = nodemailer.createTransport({ host: s.host, port: s.port, secure: false });
    s.failNext(2, { code: 451, message: '4.3.0 try again later' });
    const send = () => t.sendMail({ envelope: { from: 'a@example.com', to: ['b@example.com'] }, raw: LATIN1 });
    await expect(send()).rejects.toMatchObject({ responseCode: 451 });
    await expect(send()).rejects.toMatchObject({ responseCode: 451 });
    await send();
    expect(s.attempts.data).toBe(3);
    expect(s.rejected.map((r) => `${r.stage} ${r.code}`)).toEqual(['data 451', 'data 451']);
    const [m] = await s.waitFor(1);
    expect(m?.raw.equals(LATIN1)).toBe(true);
  });

  it('replies 550 to RCPT when told to (scripted and via onRcpt)', async () => {
    const s = await smtp({ onRcpt: (addr) => (addr.startsWith('nobody@') ? { code: 550, message: '5.1.1 no such user' } : undefined) });
    const t = nodemailer.createTransport({ host: s.host, port: s.port, secure: false });
    await expect(t.sendMail({ from: 'a@example.com', to: 'nobody@example.com', text: 'x' })).rejects.toMatchObject({ responseCode: 550 });
    s.failAlways({ code: 550, message: '5.7.1 relaying denied' }, 'rcpt');
    await expect(t.sendMail({ from: 'a@example.com', to: 'ok@example.com', text: 'x' })).rejects.toMatchObject({ responseCode: 550 });
    s.acceptAll();
    await t.sendMail({ from: 'a@example.com', to: 'ok@example.com', text: 'x' });
    expect((await s.waitFor(1)).map((m) => m.envelope.to)).toEqual([['ok@example.com']]);
    expect(s.rejected.map((r) => r.address)).toEqual(['nobody@example.com', 'ok@example.com']);
  });

  it('STARTTLS and implicit TLS with the private CA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-smtp-certs-'));
    try {
      const certs = await makeCertificates(dir);
      const ca = readFileSync(certs.caFile);
      const s = await smtp({ certs });
      const ok = nodemailer.createTransport({ host: s.host, port: s.port, secure: false, requireTLS: true, tls: { ca } });
      await ok.sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'over starttls' });
      expect((await s.waitFor(1))[0]?.secure).toBe(true);
      const noCa = nodemailer.createTransport({ host: s.host, port: s.port, secure: false, requireTLS: true });
      await expect(noCa.sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x' })).rejects.toSatisfy((e) => TLS_VERIFY_ERROR.test(errText(e)));

      const smtps = await smtp({ certs, secure: true });
      const t = nodemailer.createTransport({ host: smtps.host, port: smtps.port, secure: true, tls: { ca } });
      await t.sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'over smtps' });
      expect((await smtps.waitFor(1))[0]?.secure).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
