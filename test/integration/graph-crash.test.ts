// Issue 23: a Graph mailbox's daemon SIGKILLed right after a commit, before that batch's server
// actions, and restarted: still exactly N tickets, every message moved, nothing pending. The
// mailroom processes are real children (test/support/crash-child.ts); the Graph and OAuth2 peers run
// here and outlive them, as Microsoft's would.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openTicketStore } from '../../src/store/ticket-store.js';
import { startGraphPeer, type GraphPeer } from '../peers/graph.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { message, waitFor } from '../support/daemon-config.js';
import { allTickets, duplicates } from '../support/inbound.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../support/crash-child.ts', import.meta.url));
const USER = 'crash@acme.example';
let oauth: OAuthPeer;
let graph: GraphPeer;
let root: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  oauth = await startOAuthServer();
  graph = await startGraphPeer(oauth);
  oauth.addClient('crash-app', 'crash-secret', { user: USER });
  graph.addMailbox(USER);
  root = await mkdtemp(join(tmpdir(), 'mailroom-graph-crash-'));
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([graph?.close(), oauth?.close()]);
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

it('SIGKILL after a commit and before its moves, then restart: exactly N tickets, all moved, nothing pending', async () => {
  const N = 17;
  const subjects = Array.from({ length: N }, (_, i) => `crash ${i}`);
  for (const [i, s] of subjects.entries()) graph.deliver(USER, message(i, { subject: s }));
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
          provider: 'office365',
          apiUrl: graph.url,
          inbound: { protocol: 'graph', pollInterval: '1s', batchSize: 4, afterFetch: 'move', moveTo: 'Done' },
          auth: { user: USER, oauth2: { flow: 'client_credentials', clientId: 'crash-app', tokenUrl: oauth.tokenUrl, clientSecretFile: join(root, 'secret') } },
        },
      },
    }),
  );

  const first = run(join(root, 'config'), { MAILROOM_CRASH_AFTER_COMMITS: '2' });
  expect((await first.exited).signal, first.output()).toBe('SIGKILL');
  const moved = graph.messages(USER, 'Done').length;
  expect(moved).toBeLessThan(8); // the second batch's moves never ran
  expect(graph.messages(USER, 'inbox').length + moved).toBe(N);

  const second = run(join(root, 'config'));
  try {
    await waitFor(() => graph.messages(USER, 'inbox').length === 0 && graph.messages(USER, 'Done').length === N, 60_000, 'inbox empty, all in Done');
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
    expect(store.getCursor('crash', 'INBOX')).toMatch(/\$deltatoken=/);
  } finally {
    await store.close();
  }
}, 90_000);
