// SIGKILL during a batch: a child process runs the outbox against a real SMTP server (smtp-server,
// in this process) that ACCEPTS each message and then holds its 250 reply back for a while — so at
// every kill there are messages the server has taken whose acceptance the sender has not recorded:
// the "server accepted, not yet marked sent" window. Two kills, then a run to the end.
//
// The guarantee checked (see src/store/outbox-store.ts):
//   - nothing acknowledged is lost: every message whose enqueue resolved reaches the server;
//   - nothing the server accepted is sent twice: every Message-ID arrives exactly once;
//   - the messages caught in the window end as `sent` with `confirmed: false` (and there are some).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxStore } from '../../src/store/outbox-store.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const url = (p: string) => JSON.stringify(pathToFileURL(path.join(repo, p)).href);

const CHILD = `
import { loadConfig } from ${url('src/config/load.ts')};
import { startOutboundIn } from ${url('test/support/outbox.ts')};
import { submitMessage } from ${url('src/outbound/submit.ts')};
import { createLogger } from ${url('src/observability/logger.ts')};
const [configDir, countArg, round] = process.argv.slice(2);
const { snapshot, problems } = await loadConfig(configDir, { env: {} });
if (!snapshot) { console.error(JSON.stringify(problems)); process.exit(3); }
const outbox = await startOutboundIn(snapshot.store.path, { snapshot: () => snapshot, log: createLogger('silent') },
  { initialBackoffMs: 100, maxBackoffMs: 400, laneBackoffMs: 50, random: () => 0.5 });
const count = Number(countArg);
// Enqueue in waves of 20 concurrent requests, acknowledging each one once it is durable.
for (let i = 0; i < count; i += 20) {
  await Promise.all(Array.from({ length: Math.min(20, count - i) }, async (_, j) => {
    const n = i + j;
    const { entry } = await submitMessage(outbox, snapshot, { purpose: 'message', company: 'acme', contract: 'main', kind: 'user',
      to: ['customer' + n + '@client.example'], subject: 'Round ' + round + ' message ' + n, text: 'Body ' + n });
    process.stdout.write(JSON.stringify({ ack: entry.id, mid: entry.messageId }) + '\\n');
  }));
}
await outbox.drained();
process.stdout.write(JSON.stringify({ drained: true }) + '\\n');
await outbox.stop();
process.exit(0);
`;

const REPLY_DELAY_MS = 120;

interface Received {
  mid: string;
  at: number;
}

let work: string;
let script: string;
let configDir: string;
let dataDir: string;
let server: SMTPServer;
let port: number;
const received: Received[] = [];
/** Messages the server has taken and not yet answered. */
let pendingReplies = 0;
let onAccepted: (() => void) | null = null;
let tempFailures = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'mailroom-out-crash-'));
  script = path.join(work, 'child.mts');
  await writeFile(script, CHILD);
  let seen = 0;
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    hideSTARTTLS: true,
    logger: false,
    disableReverseLookup: true,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.once('end', () => {
        const raw = Buffer.concat(chunks).toString('latin1');
        const mid = /^Message-ID:\s*<([^>]+)>/im.exec(raw)?.[1] ?? '?';
        // Every 13th message is deferred once (451 on the end of data), to mix retries in.
        if (++seen % 13 === 0) {
          tempFailures++;
          return callback(Object.assign(new Error('4.3.0 try again'), { responseCode: 451 }));
        }
        // Accepted: the server owns it now. The reply is held back.
        received.push({ mid, at: Date.now() });
        pendingReplies++;
        onAccepted?.();
        setTimeout(() => {
          pendingReplies--;
          callback(null, 'queued as ' + mid.slice(0, 8));
        }, REPLY_DELAY_MS);
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.server.address() as { port: number }).port;
  configDir = path.join(work, 'config');
  dataDir = path.join(work, 'data');
  await mkdir(configDir, { recursive: true });
  await writeFile(
    path.join(configDir, 'mailroom.yaml'),
    stringify({
      version: 1,
      store: { path: dataDir },
      companies: { acme: { contracts: { main: { outbound: 'acme-out' } } } },
      mailboxes: { 'acme-out': { address: 'support@acme.example', outbound: { host: '127.0.0.1', port, security: 'none', maxConnections: 5, from: { name: 'ACME', address: 'support@acme.example' } } } },
    }),
  );
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(work, { recursive: true, force: true });
});

interface ChildRun {
  acks: { ack: string; mid: string }[];
  drained: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Run the child; with `killAfter`, SIGKILL it once that many more messages were accepted and at least
 * one acceptance has been waiting for its reply for 25 ms (the window under test). */
function run(round: number, enqueue: number, killAfter: number | null): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, configDir, String(enqueue), String(round)], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: ChildRun = { acks: [], drained: false, code: null, signal: null };
    let buf = '';
    let stderr = '';
    const start = received.length;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`round ${round}: child too slow (${out.acks.length} acks, ${received.length - start} received). stderr: ${stderr}`));
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as { ack?: string; mid?: string; drained?: boolean };
        buf = buf.slice(nl + 1);
        if (line.ack) out.acks.push({ ack: line.ack, mid: line.mid! });
        if (line.drained) out.drained = true;
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    if (killAfter !== null) {
      onAccepted = () => {
        if (received.length - start < killAfter) return;
        onAccepted = null;
        setTimeout(() => {
          if (pendingReplies > 0) child.kill('SIGKILL');
          else onAccepted = () => (pendingReplies > 0 ? void setTimeout(() => child.kill('SIGKILL'), 25) : undefined);
        }, 25);
      };
    }
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      onAccepted = null;
      out.code = code;
      out.signal = signal;
      if (killAfter === null && code !== 0) reject(new Error(`round ${round} exited ${code}: ${stderr}`));
      else resolve(out);
    });
  });
}

describe('outbox: SIGKILL during a batch', () => {
  it('loses nothing acknowledged and sends nothing twice that the server accepted', { timeout: 180_000 }, async () => {
    const r1 = await run(1, 150, 25);
    expect(r1.signal).toBe('SIGKILL');
    const r2 = await run(2, 60, 40);
    expect(r2.signal).toBe('SIGKILL');
    const r3 = await run(3, 20, null);
    expect(r3.drained).toBe(true);
    // Let the last held-back replies go out before looking.
    await new Promise((r) => setTimeout(r, REPLY_DELAY_MS + 50));

    const acked = [...r1.acks, ...r2.acks, ...r3.acks];
    expect(acked.length).toBeGreaterThanOrEqual(150 + 20); // round 3 enqueues all of its 20; rounds 1-2 at least some

    // Exactly once at the server.
    const counts = new Map<string, number>();
    for (const m of received) counts.set(m.mid, (counts.get(m.mid) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    // Nothing acknowledged is lost.
    const missing = acked.filter((a) => !counts.has(a.mid));
    expect(missing).toEqual([]);

    // The outbox agrees: everything sent, the ones caught in the window unconfirmed and never resent.
    const store = await OutboxStore.open(dataDir);
    try {
      const entries = [...store.entries()];
      expect(entries.filter((e) => e.status !== 'sent').map((e) => [e.id, e.status])).toEqual([]);
      // Every entry's message reached the server (also those enqueued but killed before the ack was printed).
      expect(entries.filter((e) => !counts.has(e.messageId)).map((e) => e.id)).toEqual([]);
      expect(new Set(entries.map((e) => e.messageId))).toEqual(new Set(counts.keys()));
      const unconfirmed = entries.filter((e) => e.confirmed === false);
      expect(unconfirmed.length).toBeGreaterThanOrEqual(2); // at least one per kill
      for (const e of unconfirmed) expect(counts.get(e.messageId)).toBe(1);
      expect(entries.filter((e) => e.confirmed === true).every((e) => e.response?.startsWith('250'))).toBe(true);
      expect(tempFailures).toBeGreaterThan(0);
      expect(entries.some((e) => e.attempts > 1 && e.confirmed === true)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
