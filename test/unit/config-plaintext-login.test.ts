// `security: none` with a password (or OAuth2) sends the credential in clear text: `check` warns,
// naming the place, and `--strict` fails. A loopback host (a local relay, a test server) is what
// `none` is for and is not warned about.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';

async function check(yaml: string, ...flags: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-plain-'));
  writeFileSync(join(dir, 'mailroom.yaml'), yaml);
  const out: string[] = [];
  const code = await main(['check', '--config', dir, ...flags], (s) => out.push(s), () => {});
  return { code, out: out.map((l) => l.replace(`${dir}/`, '')) };
}

const CONFIG = `version: 1
defaults:
  outbound: { host: smtp.example.com, port: 25, security: none, auth: { user: u, passwordFile: /run/secrets/smtp } }
companies:
  acme:
    contracts: { k: { inbound: [box, local] } }
mailboxes:
  box:
    auth: { user: box@acme.example, passwordFile: /run/secrets/box }
    inbound: { protocol: pop3, host: pop.acme.example, security: none }
    outbound: { host: smtp.acme.example, security: none }
  local:
    auth: { user: local@acme.example, passwordFile: /run/secrets/local }
    inbound: { protocol: imap, host: 127.0.0.1, port: 1143, security: none }
`;

describe('security: none with credentials', () => {
  it('is a warning at each place (not for a loopback host); --strict fails', async () => {
    const lenient = await check(CONFIG);
    expect(lenient.code).toBe(0);
    expect(lenient.out.slice(0, -1)).toEqual([
      'mailroom.yaml:3:59: warning: SMTP: security: none sends the password in clear text to smtp.example.com (use tls or starttls)',
      'mailroom.yaml:10:66: warning: mailbox "box" inbound: security: none sends the password in clear text to pop.acme.example (use tls or starttls)',
      'mailroom.yaml:11:52: warning: SMTP: security: none sends the password in clear text to smtp.acme.example (use tls or starttls)',
    ]);
    expect((await check(CONFIG, '--strict')).code).toBe(1);
  });

  it('without credentials there is nothing to warn about', async () => {
    const r = await check('version: 1\ndefaults:\n  outbound: { host: relay.example.com, port: 25, security: none }\n', '--strict');
    expect(r.code).toBe(0);
  });
});
