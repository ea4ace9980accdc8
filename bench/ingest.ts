// Ingest throughput benchmark: mailroom end to end against a real Dovecot, and, in the same run, the
// raw limit of the same work (one imapflow connection FETCHing the same bytes + mailparser's
// simpleParser on each, in one in-process loop).
//
//   npm run bench:ingest            (builds dist/ first; last output line: one JSON object {"bench":"ingest",...})
//   npm run bench:ingest -- --store postgres   (or embedded, or both: the default)
//
// --store (or BENCH_STORE): which store(s) mailroom writes to. `both` runs mailroom on the embedded
// store and on PostgreSQL (a private server from test/peers/postgres.ts, a fresh database per phase)
// in every round, beside the raw loop, and reports postgres/embedded as a same-run ratio (the goal of
// issue 22: >= 0.8). On PostgreSQL it also reports the server's CPU per message (the postmaster and
// its children, /proc/<pid>/stat, over the phase) beside mailroom's own, and the statements the store
// sent per IMAP batch (counted by PostgreSQL itself, pg_stat_statements calls in the phase's database:
// each statement is one round trip, BEGIN and COMMIT included; migrations at start-up and the lease
// loop's heartbeats are counted too, so the figure is an upper bound of the intake's own).
// The test server runs with fsync=off (as in the tests): a real primary's WAL flush per commit is not
// in these figures (see docs/scale-out.md). After each PostgreSQL phase its database is dropped and
// a CHECKPOINT written, as the embedded phase's store directory is removed before the next: without
// that, autovacuum of the earlier phases' databases and the checkpoint of their pages ran during the
// later phases and counted as their server CPU (0.25 ms/msg in the first round, 0.34-0.37 in later
// ones; 0.25-0.26 in every round with it).
//
// Environment knobs (defaults are what the figures in the report were measured with):
//   BENCH_MESSAGES=10000   messages (generated deterministically by bench/generate-mail.ts, ~130 MB)
//   BENCH_BATCH=100        IMAP batch size of both runs (default: the daemon's default inbound.batchSize,
//                          so that the figures are those of an unset batchSize; 500 gave the same msg/s
//                          within the noise and ~20 MB more peak RSS)
//   BENCH_WORKERS=         mailroom parse workers (default: the daemon's, one per core but one)
//   BENCH_SECURITY=none    none | tls: transport of both runs (the same for both, loopback)
//   BENCH_SEED=            generator seed
//   BENCH_ROUNDS=3         rounds of both phases (alternating order); medians are reported, the ratio is
//                          the median of the rounds' own ratios, peak RSS the highest of all rounds
//   BENCH_PHASE_LOG=/tmp/x   each phase's stdout is kept in /tmp/x.<phase> (with BENCH_NODE_ARGS=--trace-gc)
//   BENCH_NODE_ARGS=       extra node flags for each phase process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//   BENCH_MAILROOM_NODE_ARGS=  extra node flags for the mailroom phase only (to try a runtime setting on it)
//   BENCH_RAW_DEFAULT=1    also time the raw loop with simpleParser's defaults (it then also builds
//                          textAsHtml with linkify, work mailroom does not do; see below)
//
// How it is measured, and why it is fair:
// - One Dovecot (test/peers/dovecot.ts) gets the same generated messages twice, in user alice (read
//   by mailroom) and bob (read by the raw loop); both copies are written just before, so the OS page
//   cache is equally warm for both. Everything runs on this machine in this run.
// - Each measured phase (bench/ingest-phases.mjs) runs in its own fresh child process, plain `node`
//   without tsx (as `mailroom run` in production: no module-hooks thread, none in the parse workers),
//   started one after the other: neither inherits the other's JIT warm-up, heap or garbage, and the
//   ~130 MB the generator produced never counts toward anyone's RSS. The clock starts after imports.
// - mailroom: from `new Daemon()` + start() (config load, store open, parse-worker startup, IMAP
//   login all included) until its poller reports all messages durably committed (as new tickets, or
//   as articles of an existing ticket when a reply threads onto it), afterFetch keep, idle off.
// - raw: connect, LOGIN, SELECT, then UID FETCH (BODY.PEEK[]) in batches of BENCH_BATCH, and
//   `await simpleParser(source, { skipTextToHtml: true })` for each message in the same loop.
//   skipTextToHtml: mailroom stores text and html as the message has them and never builds an HTML
//   rendering of plain text (mailparser's textAsHtml with linkify: ~1,000 vs ~1,250 msg/s here), so the
//   raw loop is given the same job; it still decodes every part, converts html-only mail to text and
//   decodes attachments. With BENCH_RAW_DEFAULT=1 the default-options figure is printed as well.
// - Peak RSS: process.memoryUsage.rss() sampled every 50 ms inside the phase process (parse workers
//   are threads of that process, so they are included), and on Linux the kernel's exact high-water
//   mark of the phase process (VmHWM), which is what peak_rss_mb reports (the max of the two).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startDovecot, type DovecotPorts, type DovecotUser } from '../test/peers/dovecot.js';
import { startBenchPostgres } from './pg-peer.js';
import { writeTestConfig } from '../test/support/daemon-config.js';
import { DEFAULT_SEED, generateMailChunks } from './generate-mail.js';
import { median, medianBy } from './median.js';
import { DEFAULT_BATCH_SIZE } from '../src/config/resolve.js';

const COUNT = Number(process.env.BENCH_MESSAGES ?? 10_000);
const BATCH = Number(process.env.BENCH_BATCH ?? DEFAULT_BATCH_SIZE);
const WORKERS = process.env.BENCH_WORKERS ? Number(process.env.BENCH_WORKERS) : undefined;
const SECURITY = (process.env.BENCH_SECURITY ?? 'none') as 'none' | 'tls';
const SEED = process.env.BENCH_SEED ? Number(process.env.BENCH_SEED) : DEFAULT_SEED;
const RAW_DEFAULT = process.env.BENCH_RAW_DEFAULT === '1';
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 3)));
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 300_000);
const storeArg = process.argv.find((a, i) => process.argv[i - 1] === '--store') ?? process.argv.find((a) => a.startsWith('--store='))?.slice(8) ?? process.env.BENCH_STORE ?? 'both';
if (!['embedded', 'postgres', 'both'].includes(storeArg)) throw new Error(`--store ${storeArg}: embedded, postgres or both`);
const STORES: ('embedded' | 'postgres')[] = storeArg === 'both' ? ['embedded', 'postgres'] : [storeArg as 'embedded' | 'postgres'];

const MB = 1024 * 1024;

/** What a phase process needs to know about the Dovecot the orchestrator started. */
interface Peer {
  host: string;
  ports: DovecotPorts;
  caFile: string;
  users: DovecotUser[];
  bytes: number;
}

type Phase = 'mailroom' | 'mailroom-pg' | 'raw' | 'raw-default';

interface PhaseResult {
  phase: Phase;
  seconds: number;
  messages: number;
  msgPerSec: number;
  mbPerSec: number;
  rssStartMb: number;
  rssPeakMb: number;
  /** process CPU time (user + system, all threads incl. parse workers) per message */
  cpuMsPerMsg: number;
  hwmMb: number | null;
  samples: number;
  notes: string[];
  /** mailroom-pg only: PostgreSQL server CPU per message, statements sent in all and per IMAP batch */
  pgCpuMsPerMsg?: number;
  batches?: number;
  statements?: number;
  statementsPerBatch?: number;
  topStatements?: string;
}

// ------------------------------------------------------------------------------------ phases

/** Run one phase (bench/ingest-phases.mjs) in a fresh child process: plain node, no tsx hooks, as in production. */
function runPhase(phase: Phase, peer: Peer, configDir: string, pg?: { configDir: string; pid: number }): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const flags = (v: string | undefined) => (v ?? '').split(' ').filter(Boolean);
    // e.g. --cpu-prof (profiles the phase); BENCH_MAILROOM_NODE_ARGS: for the mailroom phase only
    const extra = [...flags(process.env.BENCH_NODE_ARGS), ...(phase.startsWith('mailroom') ? flags(process.env.BENCH_MAILROOM_NODE_ARGS) : [])];
    const input = { count: COUNT, batch: BATCH, security: SECURITY, workers: WORKERS ?? null, timeoutMs: TIMEOUT_MS, peer, configDir, pgConfigDir: pg?.configDir, pgPid: pg?.pid };
    const child = spawn(process.execPath, [...extra, fileURLToPath(new URL('./ingest-phases.mjs', import.meta.url)), phase], {
      env: { ...process.env, BENCH_PHASE: JSON.stringify(input) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (process.env.BENCH_PHASE_LOG) writeFileSync(`${process.env.BENCH_PHASE_LOG}.${phase}`, out); // e.g. --trace-gc output
      const line = out.split('\n').find((l) => l.startsWith('PHASE-RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('PHASE-RESULT '.length)) as PhaseResult);
      else reject(new Error(`phase ${phase} exited with ${code}\n${out}`));
    });
  });
}

// ------------------------------------------------------------------------------------ main

const pad = (s: string, n: number, right = false) => (right ? s.padStart(n) : s.padEnd(n));

async function orchestrate(): Promise<void> {
  console.log(`bench/ingest: ${COUNT} messages, batch ${BATCH}, security ${SECURITY}, parse workers ${WORKERS ?? 'default'}, store ${STORES.join(' + ')}, ` +
    `${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  const [dovecot, pgPeer] = await Promise.all([startDovecot(), STORES.includes('postgres') ? startBenchPostgres() : Promise.resolve(null)]);
  try {
    // Generate in chunks of 500 and append each chunk to both users: identical data for both runs.
    let bytes = 0;
    let genMs = 0;
    let appendMs = 0;
    const chunks = generateMailChunks({ count: COUNT, seed: SEED, chunk: 500 });
    for (;;) {
      let t = performance.now();
      const next = chunks.next();
      genMs += performance.now() - t;
      if (next.done) break;
      for (const m of next.value) bytes += m.length;
      t = performance.now();
      await dovecot.appendMany('alice', next.value);
      await dovecot.appendMany('bob', next.value);
      appendMs += performance.now() - t;
    }
    console.log(`generated ${COUNT} messages, ${(bytes / 1e6).toFixed(1)} MB (${(bytes / MB).toFixed(1)} MiB), in ${(genMs / 1000).toFixed(1)} s; ` +
      `appended to alice (mailroom) and bob (raw) in ${(appendMs / 1000).toFixed(1)} s`);
    const peer: Peer = { host: dovecot.host, ports: dovecot.ports, caFile: dovecot.caFile, users: dovecot.users, bytes };
    const box = { id: 'bench', user: 'alice', protocol: 'imap' as const, security: SECURITY, inbound: { afterFetch: 'keep', idle: false, pollInterval: '1s', batchSize: BATCH } };
    const cfg = await writeTestConfig(dovecot, [box]);
    // PostgreSQL: a fresh database per phase (every phase ingests all N into an empty store)
    let pgPhases = 0;
    const pgConfig = async () => {
      const db = `bench_ingest_${++pgPhases}`;
      const url = await pgPeer!.peer.createDatabase(db);
      const c = await writeTestConfig(dovecot, [box], { store: { driver: 'postgres', url } });
      return { configDir: c.dir, pid: pgPeer!.pid, db };
    };

    // Rounds: this machine may be shared, and a single pair of phases moved the ratio by +-0.15 from
    // one run to the next (other processes competing for the 2 cores slow either phase). Each round
    // runs all phases back to back, in alternating order (drift cancels), each mailroom phase on an
    // empty store; the figures reported are medians over rounds, the ratios the medians of the rounds'
    // own ratios (each from adjacent phases), and peak RSS the highest of all.
    const mailroomPhases: Phase[] = STORES.map((s) => (s === 'embedded' ? 'mailroom' : 'mailroom-pg'));
    const results: PhaseResult[] = [];
    const ratios: Partial<Record<Phase, number[]>> = {};
    const pgVsEmbedded: number[] = [];
    const loads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const forward: Phase[] = [...mailroomPhases, 'raw'];
      const order: Phase[] = round % 2 === 0 ? forward : [...forward].reverse();
      if (round === 0 && RAW_DEFAULT) order.push('raw-default');
      const got: Partial<Record<Phase, PhaseResult>> = {};
      for (const phase of order) {
        if (phase === 'mailroom') await rm(cfg.dataDir, { recursive: true, force: true }); // every round ingests all N anew
        const pg = phase === 'mailroom-pg' ? await pgConfig() : undefined;
        const load = os.loadavg()[0]!;
        loads.push(load);
        const r = await runPhase(phase, peer, cfg.dir, pg);
        if (pg) {
          const st = await pgPeer!.statements(pg.db);
          Object.assign(r, { statements: st.total, statementsPerBatch: st.total / r.batches!, topStatements: st.byKind.slice(0, 8).map(([k, v]) => `${k} ${(v / r.batches!).toFixed(1)}`).join(', ') });
          r.notes.push(`PostgreSQL execution time by statement (ms in all, calls): ${st.byTime.slice(0, Number(process.env.BENCH_PG_TOP ?? 6)).map((x) => `${x.ms.toFixed(0)} ms ${x.calls}× ${x.query}`).join(' | ')}`);
          r.notes.push(`PostgreSQL executed ${st.total} statements (pg_stat_statements): ${(st.total / r.batches!).toFixed(1)} per batch of ${BATCH} (start-up and lease rounds included); per batch: ${r.topStatements}`);
          // The phase's database goes, and what it left in shared buffers and the WAL is written out
          // now, as the embedded phase's store directory is removed: the next phase's server CPU is
          // its own work, not autovacuum of this database or a checkpoint of its pages.
          await pgPeer!.peer.query(`DROP DATABASE ${pg.db} WITH (FORCE)`);
          await pgPeer!.peer.query('CHECKPOINT');
        }
        results.push(r);
        got[phase] = r;
        console.log(`  round ${round + 1}/${ROUNDS} ${phase}: ${r.msgPerSec.toFixed(0)} msg/s, ${r.cpuMsPerMsg.toFixed(2)} CPU ms/msg` +
          (r.pgCpuMsPerMsg !== undefined ? ` + PostgreSQL ${r.pgCpuMsPerMsg.toFixed(2)} ms/msg, ${r.statementsPerBatch!.toFixed(1)} statements/batch` : '') +
          `, peak RSS ${Math.max(r.rssPeakMb, r.hwmMb ?? 0).toFixed(0)} MB (load average before: ${load.toFixed(2)})`);
      }
      for (const m of mailroomPhases) (ratios[m] ??= []).push(got[m]!.msgPerSec / got.raw!.msgPerSec);
      if (got.mailroom && got['mailroom-pg']) pgVsEmbedded.push(got['mailroom-pg'].msgPerSec / got.mailroom.msgPerSec);
      console.log(`  round ${round + 1}/${ROUNDS} ratios: ${mailroomPhases.map((m) => `${m}/raw ${ratios[m]!.at(-1)!.toFixed(3)}`).join(', ')}` +
        (pgVsEmbedded.length > round ? `, postgres/embedded ${pgVsEmbedded.at(-1)!.toFixed(3)}` : ''));
    }
    const of = (phase: Phase) => results.filter((r) => r.phase === phase);
    const raw = medianBy(of('raw'), (r) => r.msgPerSec);
    const names: Record<Phase, string> = { mailroom: 'mailroom (embedded store)', 'mailroom-pg': 'mailroom (PostgreSQL store)', raw: 'raw (imapflow + simpleParser)', 'raw-default': 'raw, simpleParser defaults' };
    console.log('');
    console.log(`${pad('run', 30)} ${pad('seconds', 8, true)} ${pad('msg/s', 7, true)} ${pad('MB/s', 6, true)} ${pad('MiB/s', 6, true)} ${pad('RSS start', 10, true)} ${pad('RSS peak', 9, true)} ${pad('VmHWM', 7, true)}`);
    for (const r of results) {
      console.log(`${pad(names[r.phase], 30)} ${pad(r.seconds.toFixed(2), 8, true)} ${pad(r.msgPerSec.toFixed(0), 7, true)} ${pad(((r.mbPerSec * MB) / 1e6).toFixed(1), 6, true)} ` +
        `${pad(r.mbPerSec.toFixed(1), 6, true)} ${pad(r.rssStartMb.toFixed(0) + ' MB', 10, true)} ${pad(r.rssPeakMb.toFixed(0) + ' MB', 9, true)} ${pad(r.hwmMb === null ? '-' : r.hwmMb.toFixed(0) + ' MB', 7, true)}`);
    }
    console.log('');
    for (const r of results) for (const n of r.notes) console.log(`${r.phase}: ${n}`);
    const summary: Record<string, unknown> = { bench: 'ingest', messages: COUNT, stores: STORES };
    const goals: [string, boolean][] = [];
    for (const m of mailroomPhases) {
      const mr = medianBy(of(m), (r) => r.msgPerSec);
      const ratio = median(ratios[m]!);
      const peakRss = Math.max(...of(m).map((r) => Math.max(r.rssPeakMb, r.hwmMb ?? 0)));
      const key = m === 'mailroom' ? 'mailroom' : 'postgres';
      console.log(`medians over ${ROUNDS} round(s): ${names[m]} ${mr.msgPerSec.toFixed(0)} msg/s, raw ${raw.msgPerSec.toFixed(0)} msg/s, ` +
        `ratio ${ratio.toFixed(3)} (rounds: ${ratios[m]!.map((x) => x.toFixed(3)).join(', ')})`);
      if (m === 'mailroom') {
        goals.push([`mailroom >= 1000 msg/s (${mr.msgPerSec.toFixed(0)})`, mr.msgPerSec >= 1000], [`ratio >= 0.7 (${ratio.toFixed(2)})`, ratio >= 0.7], [`peak RSS < 300 MB (${peakRss.toFixed(0)} MB)`, peakRss < 300]);
      }
      Object.assign(summary, {
        [`${key}_msg_s`]: Math.round(mr.msgPerSec),
        [`${key === 'mailroom' ? '' : 'postgres_'}ratio`]: Number(ratio.toFixed(3)),
        [`${key}_peak_rss_mb`]: Math.round(peakRss),
        [`${key}_mb_s`]: Number(((mr.mbPerSec * MB) / 1e6).toFixed(2)),
        [`${key}_cpu_ms_msg`]: Number(median(of(m).map((r) => r.cpuMsPerMsg)).toFixed(3)),
        [`${key === 'mailroom' ? '' : 'postgres_'}ratio_min`]: Number(Math.min(...ratios[m]!).toFixed(3)),
        [`${key === 'mailroom' ? '' : 'postgres_'}ratio_max`]: Number(Math.max(...ratios[m]!).toFixed(3)),
      });
      if (m === 'mailroom-pg') {
        Object.assign(summary, {
          postgres_server_cpu_ms_msg: Number(median(of(m).map((r) => r.pgCpuMsPerMsg!)).toFixed(3)),
          postgres_statements_per_batch: Number(median(of(m).map((r) => r.statementsPerBatch!)).toFixed(1)),
        });
      }
    }
    if (pgVsEmbedded.length) {
      const r = median(pgVsEmbedded);
      console.log(`postgres/embedded (same round): ${r.toFixed(3)} (rounds: ${pgVsEmbedded.map((x) => x.toFixed(3)).join(', ')})`);
      goals.push([`postgres >= 0.8 x embedded (${r.toFixed(2)})`, r >= 0.8]);
      Object.assign(summary, { postgres_vs_embedded: Number(r.toFixed(3)), postgres_vs_embedded_min: Number(Math.min(...pgVsEmbedded).toFixed(3)), postgres_vs_embedded_max: Number(Math.max(...pgVsEmbedded).toFixed(3)) });
    }
    if (goals.length) console.log(`goals: ${goals.map(([g, ok]) => `${ok ? 'PASS' : 'FAIL'} ${g}`).join('; ')}`);
    const rawDefault = results.find((r) => r.phase === 'raw-default');
    const emb = of('mailroom').length ? medianBy(of('mailroom'), (r) => r.msgPerSec) : null;
    console.log(JSON.stringify({
      ...summary,
      ...(emb && { peak_rss_mb: summary.mailroom_peak_rss_mb }),
      raw_msg_s: Math.round(raw.msgPerSec),
      raw_mb_s: Number(((raw.mbPerSec * MB) / 1e6).toFixed(2)),
      raw_cpu_ms_msg: Number(median(of('raw').map((r) => r.cpuMsPerMsg)).toFixed(3)),
      ...(rawDefault && { raw_default_msg_s: Math.round(rawDefault.msgPerSec) }),
      rounds: ROUNDS,
      megabytes: Number((bytes / 1e6).toFixed(1)),
      batch: BATCH,
      cores: os.availableParallelism(),
      load_1m: Number(Math.max(...loads).toFixed(2)),
    }));
  } finally {
    await Promise.all([dovecot.destroy(), pgPeer?.destroy()]);
  }
}

await orchestrate();
