// Writes a mailroom config directory whose mailboxes point at a test Dovecot, for integration tests.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Dovecot } from '../peers/dovecot.js';

export interface TestMailbox {
  id: string;
  user: string;
  protocol: 'imap' | 'pop3';
  security?: 'tls' | 'starttls' | 'none';
  inbound?: Record<string, unknown>;
  password?: string;
  company?: string;
}

export async function writeTestConfig(dovecot: Dovecot, mailboxes: TestMailbox[], extra: Record<string, unknown> = {}): Promise<{ dir: string; dataDir: string; passwordsDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-it-'));
  const dir = join(root, 'config');
  const dataDir = join(root, 'data');
  const passwordsDir = join(root, 'secrets');
  await mkdir(dir, { recursive: true });
  await mkdir(passwordsDir, { recursive: true });
  const companies: Record<string, { contracts: Record<string, { inbound: string[] }> }> = {};
  const mbs: Record<string, unknown> = {};
  for (const m of mailboxes) {
    const security = m.security ?? 'tls';
    const port = m.protocol === 'imap' ? (security === 'tls' ? dovecot.ports.imaps : dovecot.ports.imap) : security === 'tls' ? dovecot.ports.pop3s : dovecot.ports.pop3;
    const user = dovecot.users.find((u) => u.user === m.user);
    const pwFile = join(passwordsDir, m.id);
    await writeFile(pwFile, `${m.password ?? user?.password ?? 'nope'}\n`);
    // An inbound key set to null in `m.inbound` is left out (e.g. `caFile: null`: no private CA).
    const inbound = Object.fromEntries(
      Object.entries({ protocol: m.protocol, host: '127.0.0.1', port, security, caFile: dovecot.caFile, pollInterval: '1s', ...m.inbound }).filter(([, v]) => v !== null),
    );
    mbs[m.id] = {
      inbound,
      auth: { user: m.user, passwordFile: pwFile },
    };
    const company = m.company ?? 'acme';
    companies[company] ??= { contracts: { main: { inbound: [] } } };
    companies[company].contracts.main!.inbound.push(m.id);
  }
  const config = { version: 1, server: { listen: '127.0.0.1:0' }, store: { path: dataDir }, companies, mailboxes: mbs, ...extra };
  await writeFile(join(dir, 'mailroom.yaml'), stringify(config));
  return { dir, dataDir, passwordsDir };
}

export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function message(i: number, opts: { subject?: string; body?: string; messageId?: string | null; date?: string } = {}): string {
  const mid = opts.messageId === undefined ? `<msg-${i}-${Math.random().toString(36).slice(2)}@test.example>` : opts.messageId;
  return [
    `From: Customer ${i} <customer${i}@client.example>`,
    'To: desk@acme.example',
    `Subject: ${opts.subject ?? `Request ${i}`}`,
    `Date: ${opts.date ?? new Date().toUTCString()}`,
    ...(mid ? [`Message-ID: ${mid}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.body ?? `Body of request ${i}`,
    '',
  ].join('\r\n');
}
