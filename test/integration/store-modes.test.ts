// Issue 20 item 5: nothing under store.path is readable by other local users, whatever the umask.
// A daemon started with umask 000 ingests mail from a real Dovecot, acknowledges it and sends API mail
// (outbox), refreshes a rotating OAuth2 grant (oauth/ state) and has an outbound mailbox suspended
// (suspensions.json, fingerprint.key); then every directory under the store must be 0700 and every
// file 0600. A store left with looser modes is tightened at the next start, with a warning.
import { ticketStoreOf } from '../support/store-of.js';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startOAuthSmtpServer, type OAuthSmtpPeer } from '../peers/oauth-smtp.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { makeUsers } from '../support/inbound.js';
import { api } from './outbound-support.js';

const ACME = 'acme-token-0123456789abcdef';
const SECRET = 'modes-client-secret';

let dovecot: Dovecot;
let smtp: SmtpPeer;
let oauth: OAuthPeer;
let smtpOut: OAuthSmtpPeer;
let savedUmask: number;

beforeAll(async () => {
  savedUmask = process.umask(0);
  oauth = await startOAuthServer({ rotate: true });
  [dovecot, smtp, smtpOut] = await Promise.all([startDovecot({ users: makeUsers(['modes-desk']) }), startSmtpServer(), startOAuthSmtpServer(oauth)]);
});
afterAll(async () => {
  process.umask(savedUmask);
  await Promise.all([smtp?.close(), smtpOut?.close(), oauth?.close()]);
  await dovecot?.destroy();
});

/** Every path under `root` whose mode is not 0700 (directories) / 0600 (files), with its mode. */
async function looseModes(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (p: string) => {
    const st = await stat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e))); // a temp file renamed meanwhile
    if (!st) return;
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      if (mode !== 0o700) out.push(`${p} ${mode.toString(8)}`);
      for (const n of await readdir(p)) await visit(join(p, n));
    } else if (mode !== 0o600) out.push(`${p} ${mode.toString(8)}`);
  };
  await visit(root);
  return out;
}

async function allPaths(root: string): Promise<string[]> {
  const names = (await readdir(root, { recursive: true })) as string[];
  return names.map((n) => n.replaceAll('\\', '/')).sort();
}

it('with umask 000 every directory under the store is 0700 and every file 0600; a loosened store is tightened at start', async () => {
  const cfg = await writeTestConfig(dovecot, [{ id: 'desk', user: 'modes-desk', protocol: 'imap', inbound: { idle: false } }]);
  const secretsDir = cfg.passwordsDir;
  await writeFile(join(secretsDir, 'client-secret'), `${SECRET}\n`);
  oauth.addClient('modes-app', SECRET, { rotate: true });
  await writeFile(join(secretsDir, 'sender-rt'), `${oauth.grant('modes-app', 'sender')}\n`);
  const file = join(cfg.dir, 'mailroom.yaml');
  const c = parse(await readFile(file, 'utf8'));
  c.server.apiTokens = [{ name: 'acme', token: ACME, companies: ['acme'] }];
  c.mailboxes.desk.address = 'desk@acme.example';
  c.mailboxes.desk.outbound = { host: '127.0.0.1', port: smtp.port, security: 'none', from: { address: 'desk@acme.example' } };
  c.mailboxes.sender = {
    auth: { user: 'sender', oauth2: { flow: 'refresh_token', clientId: 'modes-app', tokenUrl: oauth.tokenUrl, clientSecretFile: join(secretsDir, 'client-secret'), refreshTokenFile: join(secretsDir, 'sender-rt') } },
    outbound: { host: '127.0.0.1', port: smtpOut.port, security: 'none', from: { address: 'sender@acme.example' } },
  };
  c.companies.acme.ticketPrefix = 'ACME';
  c.companies.acme.contracts.main.outbound = 'desk';
  c.companies.acme.contracts.main.acknowledge = { subject: 'Received [{{ticket.id}}]', text: 'Thanks.' };
  c.companies.acme.contracts.oa = { outbound: 'sender' };
  c.webhooks = { erp: { url: 'http://127.0.0.1:9/hook', secret: 'modes-webhook-secret-0123456789' } };
  await writeFile(file, stringify(c));
  await dovecot.append('modes-desk', message(1, { subject: 'Printer' }));

  const opts = { configPath: cfg.dir, parseWorkers: 0, watch: false, outbox: { initialBackoffMs: 100, maxBackoffMs: 300, laneBackoffMs: 50, stopTimeoutMs: 1000 } };
  let daemon = new Daemon({ ...opts, logger: createLogger('silent') });
  await daemon.start();
  try {
    const client = api(`http://127.0.0.1:${daemon.http.address()!.port}`, ACME);
    const send = (contract: string, subject: string) => client.post('/v1/messages', { company: 'acme', contract, kind: 'user', to: 'client@example.org', subject, text: 'hello' });
    await waitFor(() => ticketStoreOf(daemon).stats().tickets === 1, 15_000, 'ticket');
    await smtp.waitFor(1, 15_000); // the acknowledgement
    expect((await send('main', 'plain send')).status).toBe(202);
    await smtp.waitFor(2, 15_000);
    // OAuth2: the first send refreshes the grant, the provider rotates it → oauth/sender.json
    expect((await send('oa', 'oauth send')).status).toBe(202);
    await waitFor(() => smtpOut.messages.length === 1, 15_000, 'OAuth2 send');
    await waitFor(async () => (await readdir(join(cfg.dataDir, 'oauth')).catch(() => [])).length > 0, 10_000, 'OAuth2 state');
    // revoked grant → the sending mailbox is suspended → suspensions.json
    oauth.revokeUser('sender');
    smtpOut.dropConnections();
    expect((await send('oa', 'while revoked')).status).toBe(202);
    await waitFor(async () => (await readFile(join(cfg.dataDir, 'suspensions.json'), 'utf8').catch(() => '')).includes('"sender"'), 15_000, 'suspension on disk');

    const paths = await allPaths(cfg.dataDir);
    for (const expected of ['LOCK', 'meta.json', 'fingerprint.key', 'suspensions.json', 'oauth/sender.json', 'webhooks/queue.jsonl']) expect(paths).toContain(expected);
    for (const prefix of ['segments/', 'blobs/packs/', 'outbox/']) expect(paths.some((p) => p.startsWith(prefix) && !p.endsWith('/')), prefix).toBe(true);
    expect(await looseModes(cfg.dataDir)).toEqual([]);
  } finally {
    await daemon.stop();
  }
  expect(await looseModes(cfg.dataDir)).toEqual([]);

  // An older version's store (or a copy made under umask 022): tightened at the next start, with a warning.
  await chmod(cfg.dataDir, 0o755);
  await chmod(join(cfg.dataDir, 'segments'), 0o775);
  await chmod(join(cfg.dataDir, 'meta.json'), 0o644);
  await mkdir(join(cfg.dataDir, 'extra'), { mode: 0o777 });
  await writeFile(join(cfg.dataDir, 'extra', 'note'), 'x', { mode: 0o666 });
  const logs: string[] = [];
  daemon = new Daemon({ ...opts, logger: createLogger('debug', { write: (l: string) => void logs.push(l) }) });
  await daemon.start();
  try {
    expect(await looseModes(cfg.dataDir)).toEqual([]);
    const warn = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith('store was open to other local users'));
    expect(warn).toMatchObject({ count: 5 });
  } finally {
    await daemon.stop();
  }
  await rm(dirname(cfg.dir), { recursive: true, force: true });
}, 90_000);
