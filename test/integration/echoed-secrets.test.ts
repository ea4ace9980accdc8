// Issue 20 item 4, end to end: servers that echo the password. A hostile POP3 server (a net.Server
// speaking POP3 to the real node-pop3 client) answers PASS with `-ERR wrong password <password>`
// (plus its base64 and URL-encoded forms); a hostile smtp-server refuses AUTH with a 535 that
// echoes the password the same way. The real daemon reads and sends through them until both
// mailboxes are suspended and the company is told. The password appears in none of: the log, the
// /v1/status JSON the company token reads, any file under the store, the notice mails.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { waitFor } from '../support/daemon-config.js';
import { runTestMailbox, stepRow } from '../support/test-mailbox.js';

const ADMIN = 'admin-token-0123456789abcdef';
const ACME = 'acme-token-0123456789abcdef';
const POP_PASS = 'Tr0ub4dor&3/pop+echo';
const SMTP_PASS = 'c0rrect horse/smtp+echo';
/** Every form a password might be leaked in (checked in every output). */
const forms = (p: string) => [p, Buffer.from(p).toString('base64').replace(/=+$/, ''), encodeURIComponent(p), new URLSearchParams({ p }).toString().slice(2)];
const echoes = (p: string) => `${p} (${Buffer.from(p).toString('base64')}, ${encodeURIComponent(p)})`;

/** A POP3 server that tells everyone their password is wrong, and what it was. */
async function startHostilePop3(): Promise<{ port: number; passes: string[]; close(): Promise<void> }> {
  const passes: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.write('+OK hostile POP3 ready\r\n');
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const [cmd, ...rest] = line.split(' ');
        const arg = rest.join(' ');
        switch ((cmd ?? '').toUpperCase()) {
          case 'USER':
            sock.write('+OK send PASS\r\n');
            break;
          case 'PASS':
            passes.push(arg);
            sock.write(`-ERR wrong password ${echoes(arg)}\r\n`);
            break;
          case 'QUIT':
            sock.end('+OK bye\r\n');
            break;
          default:
            sock.write(`-ERR unknown command ${line}\r\n`);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    passes,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

let pop: Awaited<ReturnType<typeof startHostilePop3>>;
let smtpHostile: SmtpPeer;
let notifySmtp: SmtpPeer;
let smtpAuthTries = 0;
let root: string;
let configDir: string;
let daemon: Daemon;
const logs: string[] = [];

beforeAll(async () => {
  pop = await startHostilePop3();
  smtpHostile = await startSmtpServer({
    onAuth: (_user, pass) => {
      smtpAuthTries++;
      return { code: 535, message: `5.7.8 wrong password ${echoes(pass)}` };
    },
  });
  notifySmtp = await startSmtpServer();
  root = await mkdtemp(join(tmpdir(), 'mailroom-echo-'));
  configDir = join(root, 'config');
  const secretsDir = join(root, 'secrets');
  await Promise.all([mkdir(configDir, { recursive: true }), mkdir(secretsDir, { recursive: true })]);
  await writeFile(join(secretsDir, 'pop'), `${POP_PASS}\n`);
  await writeFile(join(secretsDir, 'smtp'), `${SMTP_PASS}\n`);
  await writeFile(
    join(configDir, 'mailroom.yaml'),
    stringify({
      version: 1,
      server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'admin', token: ADMIN, companies: ['*'] }, { name: 'acme', token: ACME, companies: ['acme'] }] },
      store: { path: join(root, 'data') },
      defaults: { outbound: { host: '127.0.0.1', port: notifySmtp.port, security: 'none', from: { address: 'noreply@platform.example' } } },
      companies: { acme: { notify: [{ address: 'it@acme.example', events: ['mailbox-suspended'] }], contracts: { main: { inbound: ['popin'], outbound: 'smtpout' } } } },
      mailboxes: {
        popin: { auth: { user: 'popin', passwordFile: join(secretsDir, 'pop') }, inbound: { protocol: 'pop3', host: '127.0.0.1', port: pop.port, security: 'none', pollInterval: '1s' } },
        smtpout: { auth: { user: 'smtpout', passwordFile: join(secretsDir, 'smtp') }, outbound: { host: '127.0.0.1', port: smtpHostile.port, security: 'none', from: { address: 'desk@acme.example' } } },
      },
    }),
  );
  daemon = new Daemon({
    configPath: configDir,
    logger: createLogger('debug', { write: (l: string) => void logs.push(l) }),
    parseWorkers: 0,
    watch: false,
    pollerOptions: { backoff: { baseMs: 50, maxMs: 200 } },
    suspension: { authFailureThreshold: 3, recheckMs: 200 },
    outbox: { initialBackoffMs: 50, maxBackoffMs: 200, laneBackoffMs: 50, stopTimeoutMs: 1000 },
  });
  await daemon.start();
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([pop?.close(), smtpHostile?.close(), notifySmtp?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
});

const base = () => `http://127.0.0.1:${daemon.http.address()!.port}`;
async function get(path: string, token: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base()}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text() };
}

describe('a server that echoes the password leaks it nowhere', () => {
  it('POP3 -ERR and SMTP 535 echoing the password: both mailboxes suspended, password in no log, status, file or mail', async () => {
    const sent = await fetch(`${base()}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME}`, 'content-type': 'application/json' },
      body: JSON.stringify({ company: 'acme', contract: 'main', kind: 'user', to: 'client@example.org', subject: 'through a hostile server', text: 'hello' }),
    });
    expect(sent.status).toBe(202);

    const statusOf = async (id: string) => (JSON.parse((await get('/v1/status', ACME)).text).mailboxes as Record<string, any>[]).find((m) => m.mailbox === id);
    const popin = await waitFor(async () => ((await statusOf('popin'))?.state === 'suspended' ? statusOf('popin') : null), 20_000, 'popin suspended');
    const smtpout = await waitFor(async () => ((await statusOf('smtpout'))?.state === 'suspended' ? statusOf('smtpout') : null), 20_000, 'smtpout suspended');
    expect(popin.suspension).toMatchObject({ source: 'server' });
    expect(popin.suspendedReason).toMatch(/wrong password <redacted>/);
    expect(smtpout.suspension).toMatchObject({ source: 'server', code: expect.stringMatching(/^535/) });
    expect(smtpout.suspendedReason).toMatch(/wrong password <redacted>/);
    const notices = await waitFor(() => {
      const n = notifySmtp.messages.filter((m) => m.raw.toString().includes('suspended'));
      return n.length >= 2 ? n : null;
    }, 15_000, 'two mailbox-suspended notices');

    // the peers did echo it: the test would catch a leak
    expect(pop.passes).toContain(POP_PASS);
    expect(smtpAuthTries).toBeGreaterThanOrEqual(3);

    const outputs: [string, string][] = [
      ['log', logs.join('')],
      ['/v1/status (company token)', (await get('/v1/status', ACME)).text],
      ['/v1/status (admin)', (await get('/v1/status', ADMIN)).text],
      ...notices.map((m, i): [string, string] => [`notice mail ${i}`, m.raw.toString()]),
    ];
    const store = join(root, 'data');
    for (const f of await filesUnder(store)) outputs.push([f, (await readFile(f)).toString('latin1')]);
    expect(outputs.some(([w]) => w.endsWith('suspensions.json'))).toBe(true);
    expect(outputs.map(([, t]) => t).join('\n')).toContain('<redacted>');
    for (const [where, text] of outputs) for (const p of [POP_PASS, SMTP_PASS]) for (const f of forms(p)) expect(text.includes(f), `${where} holds ${JSON.stringify(f)}`).toBe(false);
  });

  it('test-mailbox against the same servers: the refusal is shown, the password is not', async () => {
    const all = [POP_PASS, SMTP_PASS].flatMap(forms);
    const popOut = await runTestMailbox(configDir, ['popin'], () => all);
    expect(popOut.code).toBe(1);
    expect(stepRow(popOut.out, 'auth')).toMatch(/FAIL\s+auth\s+wrong password <redacted>/);
    expect(popOut.out).toMatch(/refused the credentials/);
    const smtpOut = await runTestMailbox(configDir, ['smtpout'], () => all);
    expect(smtpOut.code).toBe(1);
    expect(stepRow(smtpOut.out, 'auth')).toMatch(/FAIL\s+auth\s+.*535.*wrong password <redacted>/);
  });
});
