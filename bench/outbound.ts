// Outbound throughput benchmark: messages through mailroom's durable outbox to Postfix's smtp-sink on
// loopback, and, in the same run, nodemailer's raw pooled send of the same messages to the same sink.
//
//   npm run bench:outbound          (last output line: one JSON object {"bench":"outbound",...})
//
// Environment knobs:
//   BENCH_MESSAGES=10000     messages per phase
//   BENCH_CONNECTIONS=5      pooled SMTP connections (mailroom's default maxConnections; raw gets the same)
//   BENCH_ROUNDS=2           raw/mailroom pairs, alternating; each side reports its best round
//   BENCH_SMTP_SINK=         path of smtp-sink (default: /usr/sbin/smtp-sink or PATH). Debian: apt-get install postfix
//
// How it is measured, and why it is fair:
// - One smtp-sink (accepts everything, PIPELINING on, writes nothing) serves both sides.
// - Each phase runs in its own fresh child process (same Node, same flags), one after the other;
//   the clock starts after imports and ends when the last message was accepted by the sink.
// - raw: one nodemailer pooled transport (maxConnections = BENCH_CONNECTIONS, maxMessages 100, its
//   defaults otherwise); sendMail() with the message fields, nodemailer builds the MIME itself; at most
//   200 sends outstanding (handing nodemailer's pool all 10,000 at once only makes its queue slower).
// - mailroom: opens a fresh outbox (<tmp>/outbox), then submits every message as the API does
//   (resolver, address/header validation, MIME build, durable enqueue: fdatasync'd before it counts as
//   accepted; at most 200 submits outstanding, as concurrent API clients would), while the outbox sends
//   (pooled lane, end-of-data commit record, outcome records); the clock stops when every message is
//   recorded sent and the journal is fdatasync'd.
// - peak_rss_mb: the mailroom phase process's high-water mark (Linux VmHWM; else sampled RSS).
import { startOutboundIn } from '../test/support/outbox.js';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const COUNT = Number(process.env.BENCH_MESSAGES ?? 10_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const WINDOW = 200;
const MB = 1024 * 1024;

const message = (i: number) => ({
  to: `customer${i}@client.example`,
  subject: `Your request #${100000 + i} was updated`,
  text: `Hello,\n\nyour request #${100000 + i} was updated by our team.\n\n` + 'Details of the update follow in this paragraph. '.repeat(10) + '\n\nKind regards,\nACME Support\n',
});

interface PhaseResult {
  phase: 'raw' | 'mailroom';
  messages: number;
  seconds: number;
  msg_s: number;
  peak_rss_mb: number;
}

function peakRss(sampled: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Math.max(sampled, Number(m[1]) * 1024);
  } catch {
    // not Linux
  }
  return sampled;
}

async function window<T>(n: number, size: number, fn: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function phaseRaw(port: number): Promise<PhaseResult> {
  const { default: nodemailer } = await import('nodemailer');
  const t = nodemailer.createTransport({ pool: true, host: '127.0.0.1', port, secure: false, ignoreTLS: true, maxConnections: CONNECTIONS, maxMessages: 100 });
  const start = performance.now();
  await window(COUNT, WINDOW, (i) => t.sendMail({ from: { name: 'ACME Support', address: 'support@acme.example' }, ...message(i) }));
  const seconds = (performance.now() - start) / 1000;
  t.close();
  return { phase: 'raw', messages: COUNT, seconds, msg_s: COUNT / seconds, peak_rss_mb: peakRss(0) / MB };
}

async function phaseMailroom(port: number): Promise<PhaseResult> {
  const { loadFromSources } = await import('../src/config/load.js');
  const { startOutbound } = await import('../src/outbound/index.js');
  const { submitMessage } = await import('../src/outbound/submit.js');
  const { createLogger } = await import('../src/observability/logger.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-bench-outbound-'));
  try {
    const text = stringify({
      version: 1,
      store: { path: dir },
      companies: { acme: { contracts: { main: { outbound: 'acme-out' } } } },
      mailboxes: { 'acme-out': { address: 'support@acme.example', outbound: { host: '127.0.0.1', port, security: 'none', maxConnections: CONNECTIONS, from: { name: 'ACME Support', address: 'support@acme.example' } } } },
    });
    const snapshot = loadFromSources([{ name: 'bench.yaml', absolute: path.join(dir, 'bench.yaml'), text }], { env: {} }).snapshot!;
    let sampled = 0;
    const sampler = setInterval(() => (sampled = Math.max(sampled, process.memoryUsage.rss())), 50);
    const start = performance.now();
    const outbox = await startOutboundIn(dir, { snapshot: () => snapshot, log: createLogger('warn') });
    await window(COUNT, WINDOW, async (i) => {
      await submitMessage(outbox, snapshot, { purpose: 'message', company: 'acme', contract: 'main', kind: 'user', ...message(i), to: [message(i).to] });
    });
    await outbox.drained();
    await outbox.store.flush();
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    const sent = [...outbox.store.entries()].filter((e) => e.status === 'sent').length;
    await outbox.stop();
    if (sent !== COUNT) throw new Error(`only ${sent} of ${COUNT} sent`);
    return { phase: 'mailroom', messages: COUNT, seconds, msg_s: COUNT / seconds, peak_rss_mb: peakRss(sampled) / MB };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function findSink(): string {
  const candidates = [process.env.BENCH_SMTP_SINK, '/usr/sbin/smtp-sink', '/usr/bin/smtp-sink'].filter((x): x is string => Boolean(x));
  for (const c of candidates) if (existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', 'command -v smtp-sink'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error('smtp-sink not found: install Postfix (Debian: apt-get install postfix) or set BENCH_SMTP_SINK');
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startSink(): Promise<{ port: number; stop: () => void }> {
  const bin = findSink();
  const port = await freePort();
  // smtp-sink refuses to run as root without -u; `nobody` exists on Debian.
  const args = [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '1024'];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = createServer();
      c.once('error', () => resolve(true)); // port taken = sink listening
      c.listen(port, '127.0.0.1', () => c.close(() => resolve(false)));
    });
    if (ok) return { port, stop: () => child.kill('SIGTERM') };
    if (child.exitCode !== null) throw new Error(`smtp-sink exited: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`smtp-sink did not listen on ${port}: ${err}`);
}

function runPhase(phase: 'raw' | 'mailroom', port: number): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, [...process.execArgv, self, `--phase=${phase}`, `--port=${port}`], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${phase} phase exited ${code}: ${out}`));
      resolve(JSON.parse(last) as PhaseResult);
    });
  });
}

async function main(): Promise<void> {
  const phaseArg = process.argv.find((a) => a.startsWith('--phase='))?.slice(8);
  if (phaseArg) {
    const port = Number(process.argv.find((a) => a.startsWith('--port='))?.slice(7));
    const r = phaseArg === 'raw' ? await phaseRaw(port) : await phaseMailroom(port);
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  }
  const sink = await startSink();
  try {
    const raws: PhaseResult[] = [];
    const mailrooms: PhaseResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const phase of ['raw', 'mailroom'] as const) {
        const r = await runPhase(phase, sink.port);
        (phase === 'raw' ? raws : mailrooms).push(r);
        console.log(`round ${round} ${phase.padEnd(8)} ${r.messages} messages in ${r.seconds.toFixed(2)} s = ${r.msg_s.toFixed(0)} msg/s, peak RSS ${r.peak_rss_mb.toFixed(0)} MB`);
      }
    }
    const best = (xs: PhaseResult[]) => xs.reduce((a, b) => (b.msg_s > a.msg_s ? b : a));
    const raw = best(raws);
    const mr = best(mailrooms);
    console.log(
      JSON.stringify({
        bench: 'outbound',
        messages: COUNT,
        mailroom_msg_s: Math.round(mr.msg_s),
        raw_msg_s: Math.round(raw.msg_s),
        ratio: Math.round((mr.msg_s / raw.msg_s) * 100) / 100,
        peak_rss_mb: Math.round(Math.max(...mailrooms.map((m) => m.peak_rss_mb))),
      }),
    );
  } finally {
    sink.stop();
  }
}

await main();
