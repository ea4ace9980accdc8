// Outbound throughput benchmark: messages through mailroom's durable outbox to Postfix's smtp-sink on
// loopback, and, in the same run, nodemailer's raw pooled send of the same messages to the same sink.
//
//   npm run bench:outbound          (last output line: one JSON object {"bench":"outbound",...})
//   npm run bench:outbound -- --store postgres   (or embedded, or both: the default)
//
// --store (or BENCH_STORE): the outbox mailroom queues into. `both`: every round runs raw, mailroom on
// the embedded store and mailroom on PostgreSQL (a private server from test/peers/postgres.ts, a fresh
// database per phase), and postgres/embedded is reported as a same-run ratio (issue 22's goal: >= 0.8).
// Every phase reports its process CPU per message; the PostgreSQL phase also the server's CPU (the
// postmaster and its children, /proc/<pid>/stat, over the phase) and the statements the store sent
// per message (counted by PostgreSQL: pg_stat_statements calls in the phase's database, see
// bench/pg-peer.ts; each is one round trip, BEGIN and COMMIT included, the migrations at open too).
//
// Environment knobs:
//   BENCH_MESSAGES=10000     messages per phase
//   BENCH_CONNECTIONS=5      pooled SMTP connections (mailroom's default maxConnections; raw gets the same)
//   BENCH_ROUNDS=6           rounds of all phases, alternating order; each side reports its best round, the
//                            postgres/embedded ratio is the median of the rounds' own (it moved 0.69-1.01
//                            from round to round on 2 shared cores: batches form differently each run)
//   BENCH_SMTP_SINK=         path of smtp-sink (default: /usr/sbin/smtp-sink or PATH). Debian: apt-get install postfix
//
// How it is measured, and why it is fair:
// - One smtp-sink (accepts everything, PIPELINING on, writes nothing) serves both sides.
// - Each phase runs in its own fresh child process (same Node, same flags), one after the other;
//   the clock starts after imports (mailroom: before its store opens; PostgreSQL: migrations on an empty
//   database included) and ends when the last message was accepted by the sink.
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
import { median } from './median.js';
import { startBenchPostgres } from './pg-peer.js';
import { selfCpuMs, serverCpuMs } from './proc-cpu.mjs';

const COUNT = Number(process.env.BENCH_MESSAGES ?? 10_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const storeArg = process.argv.find((a, i) => process.argv[i - 1] === '--store') ?? process.argv.find((a) => a.startsWith('--store='))?.slice(8) ?? process.env.BENCH_STORE ?? 'both';
if (!['embedded', 'postgres', 'both'].includes(storeArg)) throw new Error(`--store ${storeArg}: embedded, postgres or both`);
const STORES: ('embedded' | 'postgres')[] = storeArg === 'both' ? ['embedded', 'postgres'] : [storeArg as 'embedded' | 'postgres'];
type Phase = 'raw' | 'mailroom' | 'mailroom-pg';
const WINDOW = 200;
const MB = 1024 * 1024;

const message = (i: number) => ({
  to: `customer${i}@client.example`,
  subject: `Your request #${100000 + i} was updated`,
  text: `Hello,\n\nyour request #${100000 + i} was updated by our team.\n\n` + 'Details of the update follow in this paragraph. '.repeat(10) + '\n\nKind regards,\nACME Support\n',
});

interface PhaseResult {
  phase: Phase;
  messages: number;
  seconds: number;
  msg_s: number;
  peak_rss_mb: number;
  /** this process's CPU (all threads) per message */
  cpu_ms_msg: number;
  /** mailroom-pg: PostgreSQL server CPU per message and statements sent per message */
  pg_cpu_ms_msg?: number;
  statements_per_msg?: number;
  top_statements?: string;
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
  const cpu0 = selfCpuMs();
  await window(COUNT, WINDOW, (i) => t.sendMail({ from: { name: 'ACME Support', address: 'support@acme.example' }, ...message(i) }));
  const seconds = (performance.now() - start) / 1000;
  const cpu = selfCpuMs() - cpu0;
  t.close();
  return { phase: 'raw', messages: COUNT, seconds, msg_s: COUNT / seconds, peak_rss_mb: peakRss(0) / MB, cpu_ms_msg: cpu / COUNT };
}

/** Imported before the clock starts (as the embedded store's modules are, at the top of this file). */
async function postgresModules() {
  const { openPostgresStores } = await import('../src/store/postgres/stores.js');
  const { startOutbound } = await import('../src/outbound/index.js');
  return { openPostgresStores, startOutbound };
}

/** The outbox on PostgreSQL (a fresh database), as the daemon opens it. */
async function startOutboundOnPostgres(url: string, deps: Parameters<typeof startOutboundIn>[1], modules: Awaited<ReturnType<typeof postgresModules>>) {
  const { openPostgresStores, startOutbound } = modules;
  const stores = await openPostgresStores({ url });
  const outbox = await startOutbound(stores.outbox, stores.outboxRecovery, deps, {}, () => stores.close());
  return { outbox, sent: async () => Number((await stores.sql<{ n: string }[]>`SELECT count(*) AS n FROM outbox WHERE status = 'sent'`)[0]!.n) };
}

async function phaseMailroom(port: number, pg: { url: string; pid: number } | null): Promise<PhaseResult> {
  const { loadFromSources } = await import('../src/config/load.js');
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
    const deps = { snapshot: () => snapshot, log: createLogger('warn') };
    const modules = pg ? await postgresModules() : null;
    const pg0 = pg ? serverCpuMs(pg.pid)! : 0;
    const cpu0 = selfCpuMs();
    const start = performance.now();
    const opened = pg ? await startOutboundOnPostgres(pg.url, deps, modules!) : null;
    const outbox = opened ? opened.outbox : await startOutboundIn(dir, deps);
    await window(COUNT, WINDOW, async (i) => {
      await submitMessage(outbox, snapshot, { purpose: 'message', company: 'acme', contract: 'main', kind: 'user', ...message(i), to: [message(i).to] });
    });
    // A sender that stopped (a failed store write stops sending until restart) never drains: say so.
    let stopped: unknown = null;
    const watch = setInterval(() => (stopped ??= outbox.store.broken), 200);
    await Promise.race([
      outbox.drained(),
      new Promise<void>((_, reject) => {
        const check = setInterval(() => {
          if (stopped === null) return;
          clearInterval(check);
          reject(new Error(`the outbox stopped sending (${(stopped as Error).message ?? stopped})`));
        }, 200);
        check.unref();
      }),
    ]).finally(() => clearInterval(watch));
    await outbox.store.flush();
    const seconds = (performance.now() - start) / 1000;
    const cpu = selfCpuMs() - cpu0;
    const pgCpu = pg ? serverCpuMs(pg.pid)! - pg0 : 0;
    clearInterval(sampler);
    const sent = opened ? await opened.sent() : [...outbox.store.entries()].filter((e) => e.status === 'sent').length;
    await outbox.stop();
    if (sent !== COUNT) throw new Error(`only ${sent} of ${COUNT} sent`);
    return {
      phase: pg ? 'mailroom-pg' : 'mailroom', messages: COUNT, seconds, msg_s: COUNT / seconds, peak_rss_mb: peakRss(sampled) / MB, cpu_ms_msg: cpu / COUNT,
      ...(pg && { pg_cpu_ms_msg: pgCpu / COUNT }),
    };
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

function runPhase(phase: Phase, port: number, pg?: { url: string; pid: number }): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url);
    const env = { ...process.env, ...(pg && { BENCH_PG: JSON.stringify(pg) }) };
    const extra = (process.env.BENCH_MAILROOM_NODE_ARGS ?? "").split(" ").filter((a) => a && phase !== "raw");
    const child = spawn(process.execPath, [...process.execArgv, ...extra, self, `--phase=${phase}`, `--port=${port}`], { stdio: ['ignore', 'pipe', 'inherit'], env });
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
    const pg = process.env.BENCH_PG ? (JSON.parse(process.env.BENCH_PG) as { url: string; pid: number }) : null;
    const r = phaseArg === 'raw' ? await phaseRaw(port) : await phaseMailroom(port, phaseArg === 'mailroom-pg' ? pg : null);
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  }
  console.log(`bench/outbound: ${COUNT} messages, ${CONNECTIONS} connections, ${ROUNDS} round(s), store ${STORES.join(' + ')}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(2)}`);
  const [sink, pgPeer] = await Promise.all([startSink(), STORES.includes('postgres') ? startBenchPostgres() : Promise.resolve(null)]);
  try {
    let dbs = 0;
    const results: PhaseResult[] = [];
    const pgVsEmbedded: number[] = [];
    const loads: number[] = [];
    const phases: Phase[] = ['raw', ...STORES.map((s): Phase => (s === 'embedded' ? 'mailroom' : 'mailroom-pg'))];
    for (let round = 1; round <= ROUNDS; round++) {
      const got: Partial<Record<Phase, PhaseResult>> = {};
      for (const phase of round % 2 ? phases : [...phases].reverse()) {
        const db = `bench_outbound_${++dbs}`;
        const pg = phase === 'mailroom-pg' ? { url: await pgPeer!.peer.createDatabase(db), pid: pgPeer!.pid } : undefined;
        loads.push(os.loadavg()[0]!);
        const r = await runPhase(phase, sink.port, pg);
        if (pg) {
          const st = await pgPeer!.statements(db);
          // (then the database goes and its pages are written out, as in bench:ingest: the next
          // phase's server CPU is its own)
          await pgPeer!.peer.query(`DROP DATABASE ${db} WITH (FORCE)`);
          await pgPeer!.peer.query('CHECKPOINT');
          r.statements_per_msg = st.total / COUNT;
          r.top_statements = st.byKind.slice(0, 6).map(([k, v]) => `${k} ${(v / COUNT).toFixed(2)}`).join(', ');
        }
        results.push(r);
        got[phase] = r;
        console.log(`round ${round} ${phase.padEnd(11)} ${r.messages} messages in ${r.seconds.toFixed(2)} s = ${r.msg_s.toFixed(0)} msg/s, ${r.cpu_ms_msg.toFixed(2)} CPU ms/msg` +
          (r.pg_cpu_ms_msg !== undefined ? ` + PostgreSQL ${r.pg_cpu_ms_msg.toFixed(2)} ms/msg, ${r.statements_per_msg!.toFixed(2)} statements/msg (${r.top_statements})` : '') +
          `, peak RSS ${r.peak_rss_mb.toFixed(0)} MB`);
      }
      if (got.mailroom && got['mailroom-pg']) pgVsEmbedded.push(got['mailroom-pg'].msg_s / got.mailroom.msg_s);
    }
    const of = (p: Phase) => results.filter((r) => r.phase === p);
    const best = (xs: PhaseResult[]) => xs.reduce((a, b) => (b.msg_s > a.msg_s ? b : a));
    const raw = best(of('raw'));
    const summary: Record<string, unknown> = { bench: 'outbound', messages: COUNT, stores: STORES };
    if (of('mailroom').length) {
      const mr = best(of('mailroom'));
      Object.assign(summary, {
        mailroom_msg_s: Math.round(mr.msg_s),
        raw_msg_s: Math.round(raw.msg_s),
        ratio: Math.round((mr.msg_s / raw.msg_s) * 100) / 100,
        peak_rss_mb: Math.round(Math.max(...of('mailroom').map((m) => m.peak_rss_mb))),
        mailroom_cpu_ms_msg: Number(median(of('mailroom').map((r) => r.cpu_ms_msg)).toFixed(3)),
      });
    } else Object.assign(summary, { raw_msg_s: Math.round(raw.msg_s) });
    if (of('mailroom-pg').length) {
      const pg = best(of('mailroom-pg'));
      Object.assign(summary, {
        postgres_msg_s: Math.round(pg.msg_s),
        postgres_ratio: Math.round((pg.msg_s / raw.msg_s) * 100) / 100,
        postgres_peak_rss_mb: Math.round(Math.max(...of('mailroom-pg').map((m) => m.peak_rss_mb))),
        postgres_cpu_ms_msg: Number(median(of('mailroom-pg').map((r) => r.cpu_ms_msg)).toFixed(3)),
        postgres_server_cpu_ms_msg: Number(median(of('mailroom-pg').map((r) => r.pg_cpu_ms_msg!)).toFixed(3)),
        postgres_statements_per_msg: Number(median(of('mailroom-pg').map((r) => r.statements_per_msg!)).toFixed(2)),
      });
    }
    if (pgVsEmbedded.length) {
      const r = median(pgVsEmbedded);
      console.log(`postgres/embedded (same round): ${r.toFixed(3)} (rounds: ${pgVsEmbedded.map((x) => x.toFixed(3)).join(', ')}); goal >= 0.8: ${r >= 0.8 ? 'PASS' : 'FAIL'}`);
      Object.assign(summary, { postgres_vs_embedded: Number(r.toFixed(3)), postgres_vs_embedded_min: Number(Math.min(...pgVsEmbedded).toFixed(3)), postgres_vs_embedded_max: Number(Math.max(...pgVsEmbedded).toFixed(3)) });
    }
    console.log(JSON.stringify({ ...summary, rounds: ROUNDS, cores: os.availableParallelism(), load_1m: Number(Math.max(...loads).toFixed(2)) }));
  } finally {
    sink.stop();
    await pgPeer?.destroy();
  }
}

await main();
