// Issue 3, "Done means" 2: the daemon killed with SIGKILL in the middle of a batch, then restarted:
// still exactly N tickets, and the server-side actions completed. Real child processes (the CLI's
// `run` from source, see test/support/crash-child.ts), a real Dovecot, the store opened afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openTicketStore, type TicketStore } from '../../src/store/ticket-store.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { freePort } from '../peers/free-port.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { allTickets, duplicates, makeUsers } from '../support/inbound.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../support/crash-child.ts', import.meta.url));
// Each test starts two mailroom processes (from source through tsx: a few seconds each on a busy
// machine), hence the per-test timeouts below.

let dovecot: Dovecot;
const children = new Set<ChildProcess>();
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['crash-move', 'crash-hook', 'crash-pop']) });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await dovecot?.destroy();
});

interface Run {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

function runMailroom(configDir: string, env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'run', '--config', configDir], {
    cwd: ROOT,
    env: { ...process.env, MAILROOM_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

/** mailroom_messages_ingested_total of a mailbox in the running child, or null if not reachable. */
async function ingested(port: number, mailbox: string): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    const text = await res.text();
    const m = new RegExp(`^mailroom_messages_ingested_total\\{mailbox="${mailbox}"\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return null;
  }
}

async function withStore<T>(dataDir: string, fn: (s: TicketStore) => Promise<T>): Promise<T> {
  const store = await openTicketStore(dataDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Exactly the expected subjects, each once; no dedupe key twice; nothing left pending. */
async function expectExactly(dataDir: string, subjects: string[]): Promise<void> {
  await withStore(dataDir, async (store) => {
    const tickets = await allTickets(store);
    expect(tickets).toHaveLength(subjects.length);
    expect(duplicates(tickets.map((t) => t.subject))).toEqual([]);
    expect(tickets.map((t) => t.subject).sort()).toEqual([...subjects].sort());
    const keys = tickets.flatMap((t) => t.articles.flatMap((a) => a.dedupeKeys));
    expect(duplicates(keys)).toEqual([]);
    // one transport key (imap:/pop3:) per message; mid:/midc: are Message-ID keys
    expect(new Set(keys.filter((k) => !/^midc?:/.test(k))).size).toBe(subjects.length);
    expect(store.stats().pendingActions).toBe(0);
  });
}

async function stopGracefully(run: Run): Promise<void> {
  run.child.kill('SIGTERM');
  const { code } = await run.exited;
  expect(code, run.output()).toBe(0);
}

it('SIGKILL from outside in the middle of ingesting 300 messages (batchSize 20, move), then restart: exactly 300 tickets, all moved', async () => {
  const user = 'crash-move';
  const N = 300;
  const body = 'x'.repeat(76) + '\r\n';
  const subjects = Array.from({ length: N }, (_, i) => `${user} ${i}`);
  // ~8 KB each, so that ingesting takes long enough to be caught in the middle
  await dovecot.appendMany(user, subjects.map((subject, i) => message(i, { subject, body: body.repeat(100) })));
  const port = await freePort();
  const cfg = await writeTestConfig(dovecot, [{ id: 'crash', user, protocol: 'imap', security: 'none', inbound: { afterFetch: 'move', moveTo: 'Done', batchSize: 20 } }], {
    server: { listen: `127.0.0.1:${port}` },
  });

  const first = runMailroom(cfg.dir);
  const atKill = await waitFor(
    async () => {
      if (first.child.exitCode !== null) throw new Error(`mailroom exited early:\n${first.output()}`);
      const n = await ingested(port, 'crash');
      return n !== null && n >= 30 ? n : null;
    },
    30_000,
    'some tickets',
  );
  first.child.kill('SIGKILL');
  expect((await first.exited).signal).toBe('SIGKILL');
  expect(atKill, 'killed too late: everything was already ingested').toBeLessThan(N);

  // The crash left a partial store and a partially processed server: nothing lost on either side.
  const partial = await withStore(cfg.dataDir, async (s) => s.stats().tickets);
  const inbox = await dovecot.list(user, 'INBOX');
  const done = await dovecot.list(user, 'Done');
  console.log(`crash test: killed at ${atKill} ingested (metric); store had ${partial} tickets; server: ${inbox.length} in INBOX, ${done.length} in Done`);
  expect(partial).toBeGreaterThan(0);
  expect(partial).toBeLessThan(N);
  expect(inbox.length + done.length).toBe(N);
  expect(done.length).toBeLessThanOrEqual(partial); // only committed mail was ever moved

  const second = runMailroom(cfg.dir, { MAILROOM_LOG_LEVEL: 'info' });
  try {
    await waitFor(async () => (await dovecot.list(user, 'INBOX')).length === 0 && (await dovecot.list(user, 'Done')).length === N, 60_000, 'INBOX empty and 300 in Done');
  } catch (e) {
    const left = await dovecot.list(user, 'INBOX');
    throw new Error(`${(e as Error).message}; INBOX has ${left.length} (${left.slice(0, 5).map((m) => m.subject).join(', ')}), Done ${(await dovecot.list(user, 'Done')).length}; restarted daemon said:\n${second.output().slice(-6000)}`);
  }
  await stopGracefully(second);
  await expectExactly(cfg.dataDir, subjects);
  expect(await dovecot.list(user, 'INBOX')).toEqual([]);
  expect((await dovecot.list(user, 'Done')).map((m) => m.subject).sort()).toEqual([...subjects].sort());
}, 120_000);

it('IMAP: killed right after a commit, before its move: the pending move is replayed on restart, no ticket twice', async () => {
  const user = 'crash-hook';
  const subjects = Array.from({ length: 60 }, (_, i) => `${user} ${i}`);
  await dovecot.appendMany(user, subjects.map((subject, i) => message(i, { subject })));
  const cfg = await writeTestConfig(dovecot, [{ id: 'hook', user, protocol: 'imap', security: 'tls', inbound: { afterFetch: 'move', moveTo: 'Done', batchSize: 20 } }]);

  const first = runMailroom(cfg.dir, { MAILROOM_CRASH_AFTER_COMMITS: '2' });
  const { signal } = await first.exited;
  expect(signal, first.output()).toBe('SIGKILL');
  // batch 1 committed and moved; batch 2 committed, its move recorded as pending but not done
  await withStore(cfg.dataDir, async (s) => {
    expect(s.stats()).toMatchObject({ tickets: 40, pendingActions: 20 });
    expect(s.pendingActions('hook').every((a) => a.action === 'move' && a.moveTo === 'Done')).toBe(true);
  });
  expect(await dovecot.list(user, 'INBOX')).toHaveLength(40);
  expect(await dovecot.list(user, 'Done')).toHaveLength(20);

  const second = runMailroom(cfg.dir);
  await waitFor(async () => (await dovecot.list(user, 'INBOX')).length === 0 && (await dovecot.list(user, 'Done')).length === 60, 30_000, 'all moved');
  await stopGracefully(second);
  await expectExactly(cfg.dataDir, subjects);
}, 90_000);

it('POP3: killed right after a commit, before DELE/QUIT: the pending delete is replayed on restart, no ticket twice', async () => {
  const user = 'crash-pop';
  const subjects = Array.from({ length: 30 }, (_, i) => `${user} ${i}`);
  await dovecot.appendMany(user, subjects.map((subject, i) => message(i, { subject })));
  const cfg = await writeTestConfig(dovecot, [{ id: 'pop', user, protocol: 'pop3', security: 'tls', inbound: { afterFetch: 'delete', batchSize: 10 } }]);

  const first = runMailroom(cfg.dir, { MAILROOM_CRASH_AFTER_COMMITS: '1' });
  const { signal } = await first.exited;
  expect(signal, first.output()).toBe('SIGKILL');
  await withStore(cfg.dataDir, async (s) => {
    expect(s.stats()).toMatchObject({ tickets: 10, pendingActions: 10 });
    expect(s.uidls('pop').size).toBe(10);
  });
  expect(await dovecot.list(user)).toHaveLength(30); // no QUIT: nothing deleted

  const second = runMailroom(cfg.dir);
  await waitFor(async () => (await dovecot.list(user)).length === 0, 30_000, 'maildrop emptied');
  await stopGracefully(second);
  await expectExactly(cfg.dataDir, subjects);
}, 90_000);
