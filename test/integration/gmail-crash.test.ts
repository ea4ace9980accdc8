// Issue 23: a Gmail mailbox's daemon SIGKILLed right after a commit (in the middle of the first
// listing of the label, its moves still waiting), and restarted: still exactly N tickets, every
// message moved, nothing pending. Real child processes (test/support/crash-child.ts); the Gmail and
// OAuth2 peers run here and outlive them, as Google's would.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openTicketStore } from '../../src/store/ticket-store.js';
import { startGmailPeer, type GmailPeer } from '../peers/gmail.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { message, waitFor } from '../support/daemon-config.js';
import { allTickets, duplicates } from '../support/inbound.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../support/crash-child.ts', import.meta.url));
const USER = 'crash@acme.example';
let oauth: OAuthPeer;
let gmail: GmailPeer;
let root: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  oauth = await startOAuthServer();
  gmail = await startGmailPeer(oauth);
  oauth.addClient('crash-app', 'crash-secret', { rotate: false });
  gmail.addMailbox(USER);
  root = await mkdtemp(join(tmpdir(), 'mailroom-gmail-crash-'));
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([gmail?.close(), oauth?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
});

function run(configDir: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'run', '--config', configDir], { cwd: ROOT, env: { ...process.env, MAILROOM_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  return { child, exited, output: () => out };
}

it('SIGKILL after a commit in the middle of the first listing, then restart: exactly N tickets, all moved, nothing pending', async () => {
  const N = 17;
  const subjects = Array.from({ length: N }, (_, i) => `crash ${i}`);
  for (const [i, s] of subjects.entries()) gmail.deliver(USER, message(i, { subject: s }), { internalDate: Date.now() - i * 1000 });
  const rt = oauth.grant('crash-app', USER);
  const dataDir = join(root, 'data');
  await mkdir(join(root, 'config'), { recursive: true });
  await writeFile(join(root, 'secret'), 'crash-secret\n');
  await writeFile(
    join(root, 'config', 'mailroom.yaml'),
    stringify({
      version: 1,
      server: { listen: '127.0.0.1:0' },
      store: { path: dataDir },
      companies: { acme: { contracts: { main: { inbound: ['crash'] } } } },
      mailboxes: {
        crash: {
          provider: 'gmail',
          apiUrl: gmail.url,
          inbound: { protocol: 'gmail', pollInterval: '1s', batchSize: 4, afterFetch: 'move', moveTo: 'Done' },
          auth: { user: USER, oauth2: { flow: 'refresh_token', clientId: 'crash-app', tokenUrl: oauth.tokenUrl, clientSecretFile: join(root, 'secret'), refreshToken: rt } },
        },
      },
    }),
  );

  const first = run(join(root, 'config'), { MAILROOM_CRASH_AFTER_COMMITS: '2' });
  expect((await first.exited).signal, first.output()).toBe('SIGKILL');
  // the listing was not over: no message was moved yet, none lost
  expect(gmail.labelId(USER, 'Done')).toBeUndefined();
  expect(gmail.messages(USER, 'INBOX')).toHaveLength(N);

  const second = run(join(root, 'config'), { MAILROOM_LOG_LEVEL: 'info' });
  try {
    await waitFor(() => gmail.messages(USER, 'INBOX').length === 0 && gmail.messages(USER, gmail.labelId(USER, 'Done') ?? 'Done').length === N, 60_000, 'inbox empty, all in Done');
  } catch (e) {
    throw new Error(`${(e as Error).message}: INBOX ${gmail.messages(USER, 'INBOX').length}, Done ${gmail.labelId(USER, 'Done')}; ${second.output().slice(-3000)}`);
  } finally {
    second.child.kill('SIGTERM');
  }
  expect((await second.exited).code, second.output()).toBe(0);
  const store = await openTicketStore(dataDir);
  try {
    const tickets = await allTickets(store);
    expect(tickets.map((t) => t.subject).sort()).toEqual([...subjects].sort());
    expect(duplicates(tickets.flatMap((t) => t.articles.flatMap((a) => a.dedupeKeys)))).toEqual([]);
    expect(store.stats().pendingActions).toBe(0);
    expect(store.getCursor('crash', 'INBOX')).toMatch(/^history:\d+$/);
  } finally {
    await store.close();
  }
}, 90_000);
