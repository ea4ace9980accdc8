// `mailroom test-mailbox` against servers presenting a self-signed certificate issued for another
// host (mail.other.example) while the mailbox says localhost: a real Dovecot (IMAP with implicit TLS,
// POP3 with STLS) and the in-process SMTP peer (STARTTLS). The diagnosis names BOTH problems, trust
// and name, with what to do for each; trusting the certificate (caFile) leaves the name problem alone.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makeSelfSignedCertificate, type CertificateFiles } from '../peers/certs.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { runTestMailbox, stepRow } from '../support/test-mailbox.js';

const OTHER = 'mail.other.example';
const PASSWORD = 'Sup3r-secret-SMTP-pass';
let dir: string;
let certs: CertificateFiles;
let smtp: SmtpPeer;
let dovecot: Dovecot;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-testmb-cert-'));
  certs = await makeSelfSignedCertificate(join(dir, 'certs'), OTHER);
  [smtp, dovecot] = await Promise.all([startSmtpServer({ certs, auth: { user: 'support@acme.example', pass: PASSWORD } }), startDovecot({ selfSignedFor: OTHER })]);
  const alice = dovecot.users.find((u) => u.user === 'alice')!;
  await writeFile(join(dir, 'alice-pass'), `${alice.password}\n`);
  await writeFile(join(dir, 'smtp-pass'), `${PASSWORD}\n`);
  const aliceAuth = { user: 'alice', passwordFile: join(dir, 'alice-pass') };
  await writeFile(
    join(dir, 'mailroom.yaml'),
    stringify({
      version: 1,
      store: { path: join(dir, 'data') },
      companies: { acme: { contracts: { main: { inbound: ['imap-other', 'pop-other', 'imap-trusted'] } } } },
      mailboxes: {
        'imap-other': { auth: aliceAuth, inbound: { protocol: 'imap', host: 'localhost', port: dovecot.ports.imaps, security: 'tls' } },
        'pop-other': { auth: aliceAuth, inbound: { protocol: 'pop3', host: 'localhost', port: dovecot.ports.pop3, security: 'starttls' } },
        'imap-trusted': { auth: aliceAuth, inbound: { protocol: 'imap', host: 'localhost', port: dovecot.ports.imaps, security: 'tls', caFile: dovecot.caFile } },
        'smtp-other': {
          address: 'support@acme.example',
          auth: { user: 'support@acme.example', passwordFile: join(dir, 'smtp-pass') },
          outbound: { host: 'localhost', port: smtp.port, security: 'starttls', from: { name: 'ACME Support', address: 'support@acme.example' } },
        },
      },
    }),
  );
}, 60_000);

afterAll(async () => {
  await smtp?.close();
  await dovecot?.destroy();
  await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => runTestMailbox(join(dir, 'mailroom.yaml'), args, () => [PASSWORD]);
/** The tls row and the hint lines under it. */
const tlsBlock = (out: string) => {
  const lines = out.split('\n');
  const at = lines.indexOf(stepRow(out, 'tls'));
  const hints: string[] = [];
  for (let i = at + 1; i < lines.length && /^\s+→/.test(lines[i]!); i++) hints.push(lines[i]!.trim());
  return { row: lines[at] ?? '', hints };
};

describe('test-mailbox: a self-signed certificate for another host names both problems', () => {
  for (const [mailbox, how] of [['imap-other', /FAIL\s+tls\s+TLSv1\.[23]/], ['pop-other', /FAIL\s+tls\s+STARTTLS, TLSv1\.[23]/], ['smtp-other', /FAIL\s+tls\s+STARTTLS, TLSv1\.[23]/]] as const)
    it(`${mailbox}: not trusted (self-signed) AND the name it is for vs the configured host; auth not tried`, async () => {
      const { code, out } = await run(mailbox);
      expect(code).toBe(1);
      const { row, hints } = tlsBlock(out);
      expect(row).toMatch(how);
      expect(row).toContain(`CN=${OTHER}`);
      expect(row).toContain('NOT trusted: self-signed');
      expect(row).toContain(`name mismatch: the certificate is for ${OTHER}, not for the configured host localhost`);
      expect(hints).toEqual([
        expect.stringMatching(/self-signed certificate: set caFile/),
        expect.stringMatching(new RegExp(`name mismatch: set host to a name the certificate is for \\(${OTHER.replace(/\./g, '\\.')}\\), or give the server a certificate for localhost`)),
      ]);
      expect(stepRow(out, 'auth')).toMatch(/skip\s+auth\s+not tried/);
    });

  it('trusted through caFile, the name mismatch alone remains', async () => {
    const { code, out } = await run('imap-trusted');
    expect(code).toBe(1);
    const { row, hints } = tlsBlock(out);
    expect(row).not.toContain('NOT trusted');
    expect(row).toContain(`name mismatch: the certificate is for ${OTHER}, not for the configured host localhost`);
    expect(hints).toHaveLength(1);
  });
});
