// `mailroom test-mailbox` against real servers: an SMTP server with STARTTLS, a private CA and AUTH
// (smtp-server), and a real Dovecot for IMAP and POP3. Each failure names its step and what to do;
// the password never appears in the output.
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makeCertificates, type CertificateFiles } from '../peers/certs.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { main } from '../../src/main.js';
import { runTestMailbox, stepRow } from '../support/test-mailbox.js';
import { parse } from './outbound-support.js';

const PASSWORD = 'Sup3r-secret-SMTP-pass';
let dir: string;
let certs: CertificateFiles;
let smtp: SmtpPeer;
let dovecot: Dovecot;
let silent: Server;
let silentPort: number;
let closedPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-testmb-'));
  certs = await makeCertificates(join(dir, 'certs'));
  [smtp, dovecot] = await Promise.all([startSmtpServer({ certs, auth: { user: 'support@acme.example', pass: PASSWORD } }), startDovecot()]);
  silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
  const tmp = createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  closedPort = (tmp.address() as { port: number }).port;
  await new Promise<void>((r) => tmp.close(() => r()));
  await writeFile(join(dir, 'smtp-pass'), `${PASSWORD}\n`);
  await writeFile(join(dir, 'wrong-pass'), 'not-the-password\n');
  const alice = dovecot.users.find((u) => u.user === 'alice')!;
  await writeFile(join(dir, 'alice-pass'), `${alice.password}\n`);
  const smtpBox = (extra: Record<string, unknown> = {}, pw = 'smtp-pass') => ({
    address: 'support@acme.example',
    auth: { user: 'support@acme.example', passwordFile: join(dir, pw) },
    outbound: { host: 'localhost', port: smtp.port, security: 'starttls', caFile: certs.caFile, from: { name: 'ACME Support', address: 'support@acme.example' }, ...extra },
  });
  const imapBox = (inbound: Record<string, unknown>) => ({
    auth: { user: 'alice', passwordFile: join(dir, 'alice-pass') },
    inbound: { protocol: 'imap', host: 'localhost', port: dovecot.ports.imaps, security: 'tls', caFile: dovecot.caFile, ...inbound },
  });
  await writeFile(
    join(dir, 'mailroom.yaml'),
    stringify({
      version: 1,
      store: { path: join(dir, 'data') },
      companies: { acme: { contracts: { main: { inbound: ['imap-ok', 'imap-nofolder', 'pop-ok'] } } } },
      mailboxes: {
        'smtp-ok': smtpBox(),
        'smtp-wrong-password': smtpBox({}, 'wrong-pass'),
        'smtp-untrusted': smtpBox({ caFile: undefined }),
        'smtp-nodns': smtpBox({ host: 'smtp.does-not-exist.invalid' }),
        'smtp-closed': smtpBox({ host: '127.0.0.1', port: closedPort }),
        'smtp-silent': smtpBox({ host: '127.0.0.1', port: silentPort, timeout: '10s' }),
        'imap-ok': imapBox({}),
        'imap-nofolder': imapBox({ folder: 'Nope/Missing' }),
        'pop-ok': { auth: { user: 'alice', passwordFile: join(dir, 'alice-pass') }, inbound: { protocol: 'pop3', host: 'localhost', port: dovecot.ports.pop3, security: 'starttls', caFile: dovecot.caFile } },
      },
    }),
  );
}, 60_000);

afterAll(async () => {
  await smtp?.close();
  await dovecot?.destroy();
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => runTestMailbox(join(dir, 'mailroom.yaml'), args, () => [PASSWORD]);
const row = stepRow;

describe('mailroom test-mailbox', () => {
  it('outbound ok: DNS, TCP, STARTTLS with the private CA, AUTH; and a test message with --send-to', async () => {
    smtp.clear();
    const { code, out } = await run('smtp-ok', '--send-to', 'ops@acme.example');
    expect(code).toBe(0);
    expect(row(out, 'dns')).toMatch(/ok\s+dns\s+localhost → /);
    expect(row(out, 'tcp')).toMatch(/ok\s+tcp\s+connected/);
    expect(row(out, 'tls')).toMatch(/ok\s+tls\s+STARTTLS, TLSv1\.[23].*CN=localhost issued by mailroom test CA.*trusted \(caFile\)/);
    expect(row(out, 'auth')).toMatch(/ok\s+auth\s+authenticated as support@acme\.example/);
    expect(row(out, 'send')).toMatch(/ok\s+send\s+to ops@acme\.example: 250 .*Message-ID <.+\.mailroom@acme\.example>/);
    expect(out).toMatch(/result: ok/);
    const [m] = await smtp.waitFor(1);
    expect(m!.envelope).toEqual({ from: 'support@acme.example', to: ['ops@acme.example'] });
    expect(m!.secure).toBe(true);
    const p = await parse(m!.raw);
    expect(p.subject).toBe('mailroom test message from mailbox smtp-ok');
    expect(p.headers.get('auto-submitted')).toBe('auto-generated');
  });

  it('a refused password: FAIL auth with what to check, exit 1, the password not printed', async () => {
    const { code, out } = await run('smtp-wrong-password', '--send-to', 'ops@acme.example');
    expect(code).toBe(1);
    expect(row(out, 'tls')).toMatch(/^\s+ok/);
    expect(row(out, 'auth')).toMatch(/FAIL\s+auth\s+.*535/);
    expect(out).toMatch(/→ the SMTP server refused the credentials: check auth\.user and the password/);
    expect(row(out, 'send')).toMatch(/skip\s+send/);
    expect(out).not.toContain('not-the-password');
    expect(out).toMatch(/result: FAILED/);
  });

  it('an untrusted certificate: FAIL tls, says to set caFile', async () => {
    const { code, out } = await run('smtp-untrusted');
    expect(code).toBe(1);
    expect(row(out, 'tls')).toMatch(/FAIL\s+tls\s+STARTTLS.*CN=localhost.*NOT trusted: issued by mailroom test CA \S+, a CA this machine does not trust/);
    expect(row(out, 'tls')).not.toContain('name mismatch');
    expect(out).toMatch(/→ a private CA .*: set caFile to the issuing CA's PEM file/);
    expect(row(out, 'auth')).toMatch(/skip/);
  });

  it('DNS, refused and silent servers fail at their own step', async () => {
    const dns = await run('smtp-nodns');
    expect(dns.code).toBe(1);
    expect(row(dns.out, 'dns')).toMatch(/FAIL\s+dns\s+smtp\.does-not-exist\.invalid does not resolve/);
    const closed = await run('smtp-closed');
    expect(row(closed.out, 'tcp')).toMatch(/FAIL\s+tcp\s+.*ECONNREFUSED/);
    expect(closed.out).toMatch(/nothing listens on that port/);
    const quiet = await run('smtp-silent');
    expect(row(quiet.out, 'tcp')).toMatch(/^\s+ok/);
    expect(row(quiet.out, 'tls')).toMatch(/FAIL\s+tls\s+STARTTLS failed: no reply within 10 s/);
  }, 40_000);

  it('inbound IMAP: TLS, login and the folder; a missing folder fails at the folder step', async () => {
    const ok = await run('imap-ok');
    expect(ok.code).toBe(0);
    expect(row(ok.out, 'tls')).toMatch(/ok\s+tls\s+TLSv1\.[23].*trusted \(caFile\)/);
    expect(row(ok.out, 'auth')).toMatch(/ok\s+auth\s+logged in as alice \(IMAP\)/);
    expect(row(ok.out, 'folder')).toMatch(/ok\s+folder\s+INBOX: \d+ message\(s\), UIDVALIDITY \d+/);
    const bad = await run('imap-nofolder');
    expect(bad.code).toBe(1);
    expect(row(bad.out, 'auth')).toMatch(/^\s+ok/);
    expect(row(bad.out, 'folder')).toMatch(/FAIL\s+folder\s+Nope\/Missing/);
    expect(bad.out).toMatch(/check inbound\.folder/);
    expect(bad.out).not.toContain(dovecot.users.find((u) => u.user === 'alice')!.password);
  });

  it('inbound POP3 with STLS', async () => {
    const { code, out } = await run('pop-ok');
    expect(code).toBe(0);
    expect(row(out, 'tls')).toMatch(/ok\s+tls\s+STARTTLS, TLSv1\.[23]/);
    expect(row(out, 'auth')).toMatch(/ok\s+auth\s+logged in as alice \(POP3\)/);
  });

  it('usage: an unknown mailbox is named with the known ones; a missing id is a usage error', async () => {
    const r = await run('nope');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/mailbox nope is not defined .*\(mailboxes: smtp-ok, /);
    const u = await main(['test-mailbox', '--config', join(dir, 'mailroom.yaml')], () => undefined, () => undefined);
    expect(u).toBe(2);
  });
});
