// Issue 5: receiver down for a while, the daemon SIGKILLed and restarted meanwhile: every message
// is delivered, none twice (as a receiver deduping on the delivery id sees it), none lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startReceiver } from '../peers/webhook-receiver.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { makeUsers } from '../support/inbound.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../support/crash-child.ts', import.meta.url));
const SECRET = 'crash-webhook-secret-0123';
const N = 120;

let dovecot: Dovecot;
const children = new Set<ChildProcess>();
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['hook-crash']) });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await dovecot?.destroy();
});

function run(configDir: string): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'run', '--config', configDir], {
    cwd: ROOT,
    env: { ...process.env, MAILROOM_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  return { child, exited: once(child, 'exit').then(() => children.delete(child)) };
}

it('delivers every message exactly once (by delivery id) across an outage and a SIGKILL', async () => {
  const receiver = await startReceiver(SECRET);
  await receiver.down();
  await dovecot.appendMany('hook-crash', Array.from({ length: N }, (_, i) => message(i, { subject: `Crash ${i}` })));
  const cfg = await writeTestConfig(
    dovecot,
    [{ id: 'desk', user: 'hook-crash', protocol: 'imap', inbound: { idle: false, batchSize: 10, afterFetch: 'move', moveTo: 'Done' } }],
    {
      webhooks: { erp: { url: receiver.url, secret: SECRET, timeout: '2s', initialBackoff: '100ms', maxBackoff: '400ms', maxAttempts: 100, concurrency: 4 } },
      routes: [{ name: 'all', deliver: ['webhook:erp'] }],
    },
  );
  try {
    // First life: ingests while the receiver is down, then dies by SIGKILL mid-way.
    const first = run(cfg.dir);
    await waitFor(async () => (await dovecot.list('hook-crash', 'INBOX')).length === N, 15_000, 'mail in place');
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGKILL');
    await first.exited;
    // Nothing was accepted, so nothing may have left the INBOX (webhook-only mail waits).
    expect(await dovecot.list('hook-crash', 'Done')).toHaveLength(0);
    // The receiver comes back; mid-way through delivering, the second life is killed too.
    await receiver.up();
    const second = run(cfg.dir);
    await waitFor(() => receiver.accepted.length >= N / 3, 60_000, 'some deliveries');
    second.child.kill('SIGKILL');
    await second.exited;
    const third = run(cfg.dir);
    await waitFor(() => receiver.unique().size === N, 60_000, `all ${N} delivered`);
    await waitFor(async () => (await dovecot.list('hook-crash', 'Done')).length === N, 30_000, 'all moved after acceptance');
    third.child.kill('SIGTERM');
    await third.exited;
    const subjects = [...receiver.unique().values()].map((r) => r.body.article.subject as string);
    expect(new Set(subjects).size).toBe(N);
    // A SIGKILL right after an accepted POST can make one delivery arrive again (same delivery id);
    // a receiver deduping on the id sees each message once. Count how many such repeats happened.
    const repeats = receiver.accepted.length - receiver.unique().size;
    expect(repeats).toBeLessThanOrEqual(8); // at most the in-flight requests at the moment of the kill
    expect(await dovecot.list('hook-crash', 'INBOX')).toHaveLength(0);
  } finally {
    await receiver.close();
  }
}, 240_000);
