// The two measured phases of bench/ingest.ts, each run by it in a fresh child process:
//   node bench/ingest-phases.mjs mailroom|raw|raw-default
// Plain JavaScript on purpose: the phase process runs without tsx's module hooks (a loader thread of
// its own, and hooks in every parse worker), as `mailroom run` does in production. The orchestrator
// passes everything through BENCH_PHASE (JSON); the last stdout line is `PHASE-RESULT {...}`.
import { readdirSync, readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import { serverCpuMs } from './proc-cpu.mjs';

const MB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const input = JSON.parse(process.env.BENCH_PHASE ?? 'null');
if (!input) throw new Error('ingest-phases.mjs is run by bench/ingest.ts (BENCH_PHASE missing)');
const { count, batch, security, workers, timeoutMs, peer, configDir, pgConfigDir, pgPid } = input;

/** Kernel peak RSS (VmHWM) of this process; null where /proc is not available. */
function hwmMb() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** CPU of each thread of this process (main, t<tid>) (Linux /proc), in ms: { name: { user, sys, n } }. */
function threadCpu() {
  const out = {};
  let names;
  try { names = readdirSync('/proc/self/task'); } catch { return out; }
  const tick = 10; // USER_HZ 100 on Linux
  for (const t of names) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const comm = String(t) === String(process.pid) ? 'main' : `t${t}`; // every thread is named "node"
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const e = (out[comm] ??= { user: 0, sys: 0, n: 0 });
      e.user += Number(f[11]) * tick; e.sys += Number(f[12]) * tick; e.n++;
    } catch { /* the thread ended */ }
  }
  return out;
}

/** RSS every 50 ms (parse workers are threads of this process: included) and CPU of all threads. */
class RssSampler {
  start = process.memoryUsage.rss();
  cpu0 = process.cpuUsage();
  threads0 = threadCpu();
  peak = this.start;
  samples = 0;
  #timer = setInterval(() => this.sample(), 50);
  atPeak = null;
  sample() {
    const r = process.memoryUsage.rss();
    this.samples++;
    if (r > this.peak) {
      this.peak = r;
      this.atPeak = process.memoryUsage(); // the main thread's heap; the rest of RSS is workers, code, buffers
    }
  }
  stop() {
    this.sample();
    clearInterval(this.#timer);
    const cpu = process.cpuUsage(this.cpu0);
    const threads = threadCpu();
    for (const [k, v] of Object.entries(this.threads0)) if (threads[k]) { threads[k].user -= v.user; threads[k].sys -= v.sys; }
    return { threads, rssStartMb: this.start / MB, rssPeakMb: this.peak / MB, hwmMb: hwmMb(), samples: this.samples, cpuMs: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, sysMs: cpu.system / 1000 };
  }
}

const heapNote = (s) => s.atPeak ? `at peak RSS ${(s.atPeak.rss / MB).toFixed(0)} MB: main-thread heap ${(s.atPeak.heapUsed / MB).toFixed(0)} MB used of ${(s.atPeak.heapTotal / MB).toFixed(0)}, external ${(s.atPeak.external / MB).toFixed(0)} MB (array buffers ${(s.atPeak.arrayBuffers / MB).toFixed(0)})` : 'no RSS peak sampled';
const cpuNote = (rss, n) => `CPU per message: ${(rss.userMs / n).toFixed(2)} ms user + ${(rss.sysMs / n).toFixed(2)} ms system (all threads)` +
  (Object.keys(rss.threads).length ? '; by thread (user+sys ms/msg): ' + Object.entries(rss.threads).filter(([, v]) => v.user + v.sys > 0)
    .sort((a, b) => b[1].user + b[1].sys - a[1].user - a[1].sys)
    .slice(0, 8).map(([k, v]) => `${k} ${(v.user / n).toFixed(2)}+${(v.sys / n).toFixed(2)}`).join(', ') : '');
const dist = (rel) => new URL(`../dist/${rel}`, import.meta.url).href;

async function phaseMailroom(onPostgres) {
  // The shipped build (dist/, what `mailroom run` executes).
  const { Daemon } = await import(dist('daemon/daemon.js'));
  const { createLogger } = await import(dist('observability/logger.js'));
  const pg0 = onPostgres ? serverCpuMs(pgPid) : null;
  const sampler = new RssSampler();
  const t0 = performance.now();
  const daemon = new Daemon({
    configPath: onPostgres ? pgConfigDir : configDir, logger: createLogger('warn'), ...(workers !== null && { parseWorkers: workers }),
  });
  let firstAt = 0;
  let done = 0;
  try {
    await daemon.start();
    const startedAt = performance.now();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = daemon.supervisor.statuses()[0];
      done = st?.ingested ?? 0; // tickets + threaded articles, counted once their commit is durable
      if (done > 0 && !firstAt) firstAt = performance.now();
      if (done >= count) break;
      if (st?.lastError && st.consecutiveFailures > 0) throw new Error(`mailroom poller failed: ${st.lastError.class}: ${st.lastError.message}`);
      if (Date.now() > deadline) throw new Error(`mailroom: only ${done}/${count} messages after ${timeoutMs} ms`);
      await sleep(5);
    }
    const seconds = (performance.now() - t0) / 1000;
    const rss = sampler.stop();
    const pgCpuMs = onPostgres ? serverCpuMs(pgPid) - pg0 : null;
    const stats = await daemon.stores.tickets.stats();
    // every message is exactly one article (a reply tagged [ACME-000123] joins that ticket)
    if (stats.articles !== count) throw new Error(`mailroom: store has ${stats.articles} articles, expected ${count}`);
    const batches = Math.ceil(count / batch);
    const storeNote = onPostgres
      ? `store (PostgreSQL): ${stats.articles} articles in ${stats.tickets} tickets over ${batches} batches of ${batch}`
      : (() => {
          const io = daemon.stores.parts.tickets.ioStats(); // the embedded store's ticket part (its I/O counts)
          return `store (embedded): ${stats.articles} articles in ${stats.tickets} tickets (replies threaded), ${io.flushes} group-commit flushes, ${io.fileWrites} file writes`;
        })();
    return {
      phase: onPostgres ? 'mailroom-pg' : 'mailroom', seconds, messages: done, msgPerSec: done / seconds, mbPerSec: peer.bytes / MB / seconds, ...rss, cpuMsPerMsg: rss.cpuMs / done,
      ...(onPostgres && { pgCpuMsPerMsg: pgCpuMs / done, batches }),
      notes: [
        cpuNote(rss, done),
        ...(onPostgres ? [`PostgreSQL server CPU (postmaster + children, /proc): ${(pgCpuMs / done).toFixed(3)} ms/msg, ${(pgCpuMs / 1000).toFixed(1)} s in all`] : []),
        heapNote(sampler),
        `start() took ${((startedAt - t0) / 1000).toFixed(2)} s; first commit durable after ${((firstAt - t0) / 1000).toFixed(2)} s`,
        storeNote,
      ],
    };
  } finally {
    sampler.stop();
    await daemon.stop();
  }
}

async function phaseRaw(defaults) {
  const password = peer.users.find((u) => u.user === 'bob').password;
  const sampler = new RssSampler();
  const t0 = performance.now();
  const client = new ImapFlow({
    host: peer.host,
    port: security === 'tls' ? peer.ports.imaps : peer.ports.imap,
    secure: security === 'tls',
    doSTARTTLS: false,
    tls: { ca: readFileSync(peer.caFile) },
    auth: { user: 'bob', pass: password },
    logger: false,
    disableAutoIdle: true,
  });
  client.on('error', () => {});
  const options = defaults ? {} : { skipTextToHtml: true };
  let n = 0;
  let withText = 0;
  try {
    await client.connect();
    const box = await client.mailboxOpen('INBOX', { readOnly: true });
    const last = box.uidNext - 1;
    for (let lo = 1; lo <= last; lo += batch) {
      const hi = Math.min(last, lo + batch - 1);
      for await (const m of client.fetch(`${lo}:${hi}`, { uid: true, source: true }, { uid: true })) {
        if (!m.source) continue;
        const parsed = await simpleParser(m.source, options);
        if (parsed.text) withText++;
        n++;
      }
    }
    await client.logout();
  } finally {
    client.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const rss = sampler.stop();
  if (n !== count) throw new Error(`raw: fetched ${n} messages, expected ${count}`);
  return {
    phase: defaults ? 'raw-default' : 'raw', seconds, messages: n, msgPerSec: n / seconds, mbPerSec: peer.bytes / MB / seconds, ...rss, cpuMsPerMsg: rss.cpuMs / n,
    notes: [cpuNote(rss, n), heapNote(sampler), `${withText}/${n} parsed with a text body${defaults ? ' (simpleParser defaults: textAsHtml + linkify too)' : ' (simpleParser, skipTextToHtml)'}`],
  };
}

const phase = process.argv[2];
const r = phase === 'mailroom' || phase === 'mailroom-pg' ? await phaseMailroom(phase === 'mailroom-pg') : await phaseRaw(phase === 'raw-default');
console.log(`PHASE-RESULT ${JSON.stringify(r)}`);
// the daemon's pino destination and Dovecot helpers keep nothing open; exit promptly regardless
process.exit(0);
