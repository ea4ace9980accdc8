// Fleet benchmark: one daemon reading 1,000 IMAP mailboxes on one Dovecot (1,000 users). How politely
// the fleet connects (login spread per host), what it costs the daemon (CPU per second at start and
// in steady state, RSS), how fast new mail arrives under IDLE, and what a reload costs at 1,000
// mailboxes against a few.
//
//   npm run bench:fleet          (last output line: one JSON object {"bench":"fleet",...})
//
// Environment knobs:
//   FLEET_MAILBOXES=1000    mailboxes (= Dovecot users)
//   FLEET_RATE=50           defaults.inbound.loginsPerSecond (the host's login rate)
//   FLEET_BURST=20          defaults.inbound.loginBurst
//   FLEET_POLL=30s          defaults.inbound.pollInterval (how often IDLE is refreshed and a sync runs)
//   FLEET_STEADY=60         seconds of steady state sampled (default two poll intervals)
//   FLEET_LATENCY=40        new messages whose IDLE latency is measured
//   FLEET_SECURITY=none     none | tls (the mailboxes' security; tls adds the handshakes' CPU)
//   FLEET_MAILROOM=         another build's bin/mailroom.js to compare with (e.g. main's, before pacing);
//                           FLEET_BASELINE=1 then leaves out the settings that build does not know
//
// How it is measured:
// - Dovecot runs with `service imap { client_limit = 100 }`: one imap process per client would take
//   an inotify instance each, and past the kernel's 128 per uid IDLE falls back to 30 s polling.
// - The daemon is `node bin/mailroom.js run --no-watch` (built dist/) in its own process; its CPU is
//   read from /proc/<pid>/stat every second (user + system), its RSS from /proc/<pid>/status.
// - Login times come from Dovecot's log (microsecond timestamps): first → last, and the most logins
//   in any one-second window.
// - IDLE latency: a message is appended (Dovecot's private helper listener) to a random mailbox; the
//   latency runs to the time of the daemon's "mailbox synced" log line for it (its commit).
// - Reload: POST /-/reload (trigger api, no file-settle wait), the HTTP round trip; "unchanged" is the
//   file rewritten with a new comment (the hash moves, nothing resolves differently), "one changed" one
//   mailbox's pollInterval. Then the same against a daemon of FLEET_FEW (3) mailboxes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startDovecot, type Dovecot } from '../test/peers/dovecot.js';
import { freePort } from '../test/peers/free-port.js';

const N = Number(process.env.FLEET_MAILBOXES ?? 1000);
const RATE = Number(process.env.FLEET_RATE ?? 50);
const BURST = Number(process.env.FLEET_BURST ?? 20);
const POLL = process.env.FLEET_POLL ?? '30s';
const STEADY_S = Number(process.env.FLEET_STEADY ?? 60);
const LATENCY_N = Number(process.env.FLEET_LATENCY ?? 40);
const SECURITY = process.env.FLEET_SECURITY ?? 'none';
const MAILROOM = process.env.FLEET_MAILROOM;
const BASELINE = process.env.FLEET_BASELINE === '1';
const FEW = 3;
const TOKEN = 'fleet-bench-token-0123456789abcdef';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLK_TCK = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const r1 = (x: number) => Math.round(x * 10) / 10;

interface Fleet {
  dir: string;
  file: string;
  doc: Record<string, any>;
  port: number;
}

async function writeFleet(dovecot: Dovecot, count: number, root: string): Promise<Fleet> {
  const dir = join(root, `config-${count}`);
  await mkdir(dir, { recursive: true });
  const secrets = join(root, 'secrets');
  await mkdir(secrets, { recursive: true });
  const mailboxes: Record<string, unknown> = {};
  const companies: Record<string, { contracts: { main: { inbound: string[] } } }> = {};
  for (let i = 0; i < count; i++) {
    const u = dovecot.users[i]!;
    await writeFile(join(secrets, u.user), `${u.password}\n`);
    const id = `mb-${u.user}`;
    mailboxes[id] = {
      inbound: { protocol: 'imap', host: '127.0.0.1', port: SECURITY === 'tls' ? dovecot.ports.imaps : dovecot.ports.imap, security: SECURITY, caFile: dovecot.caFile },
      auth: { user: u.user, passwordFile: join(secrets, u.user) },
    };
    const company = `c${i % 10}`;
    (companies[company] ??= { contracts: { main: { inbound: [] } } }).contracts.main.inbound.push(id);
  }
  const port = await freePort();
  const doc = {
    version: 1,
    server: { listen: `127.0.0.1:${port}`, apiTokens: [{ name: 'ops', token: TOKEN, companies: ['*'] }] },
    store: { path: join(root, `data-${count}`) },
    log: { level: 'info' },
    defaults: { inbound: { pollInterval: POLL, ...(!BASELINE && { loginsPerSecond: RATE, loginBurst: BURST }) } },
    companies,
    mailboxes,
  };
  const file = join(dir, 'mailroom.yaml');
  await writeFile(file, stringify(doc));
  return { dir, file, doc, port };
}

/** The daemon in its own process, its log lines parsed as they come. */
class DaemonProcess {
  child: ChildProcess;
  synced: { mailbox: string; at: number }[] = [];
  connected = 0;
  private buf = '';
  private output = '';
  constructor(fleet: Fleet) {
    this.child = spawn(process.execPath, [MAILROOM ?? join(ROOT, 'bin/mailroom.js'), 'run', '--no-watch', '--config', fleet.dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => this.onData(d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
  }
  private onData(text: string) {
    this.buf += text;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.includes('"mailbox synced"')) {
        const j = JSON.parse(line) as { mailbox: string; time: string };
        this.synced.push({ mailbox: j.mailbox, at: Date.parse(j.time) });
      } else if (line.includes('"mailbox connected"')) this.connected++;
      else if (line.includes('"level":"error"') || line.includes('"level":"fatal"')) this.output += line + '\n';
    }
  }
  get pid(): number {
    return this.child.pid!;
  }
  cpuTicks(): number {
    const f = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14, 15)
  }
  rssMb(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  }
  errors(): string {
    return this.output;
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** CPU % of the daemon for each second while `until` is pending. */
async function sampleCpu(d: DaemonProcess, until: () => boolean | Promise<boolean>, maxS: number): Promise<number[]> {
  const out: number[] = [];
  let ticks = d.cpuTicks();
  let t = performance.now();
  for (let s = 0; s < maxS && !(await until()); s++) {
    await sleep(1000);
    const now = performance.now();
    const tk = d.cpuTicks();
    out.push(((tk - ticks) / CLK_TCK / ((now - t) / 1000)) * 100);
    ticks = tk;
    t = now;
  }
  return out;
}

async function waitHttp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/-/healthy`);
      if (r.status < 500) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error('daemon did not answer HTTP');
    await sleep(100);
  }
}

async function reloadMs(fleet: Fleet): Promise<{ ms: number; status: string; changes: number }> {
  const t = performance.now();
  const r = await fetch(`http://127.0.0.1:${fleet.port}/-/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await r.json()) as { status: string; changes: unknown[] };
  return { ms: performance.now() - t, status: body.status, changes: body.changes?.length ?? 0 };
}

/** Median reload time: unchanged (a new comment) and one mailbox changed, `rounds` each. */
async function reloads(fleet: Fleet, rounds = 3): Promise<{ unchangedMs: number; oneChangedMs: number }> {
  const unchanged: number[] = [];
  const changed: number[] = [];
  const first = Object.keys(fleet.doc.mailboxes)[0]!;
  for (let k = 0; k < rounds; k++) {
    await writeFile(fleet.file, stringify(fleet.doc) + `# touched ${k}\n`);
    const u = await reloadMs(fleet);
    if (u.status !== 'applied' || u.changes !== 0) throw new Error(`unchanged reload: ${JSON.stringify(u)}`);
    unchanged.push(u.ms);
    fleet.doc.mailboxes[first].inbound.pollInterval = k % 2 ? '31s' : '32s';
    await writeFile(fleet.file, stringify(fleet.doc));
    const c = await reloadMs(fleet);
    if (c.status !== 'applied' || c.changes !== 1) throw new Error(`one-changed reload: ${JSON.stringify(c)}`);
    changed.push(c.ms);
  }
  return { unchangedMs: r1(pct(unchanged, 50)), oneChangedMs: r1(pct(changed, 50)) };
}

function maxPerSecond(times: number[]): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= 1000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

function message(i: number): string {
  return [`From: Customer <c${i}@client.example>`, 'To: desk@acme.example', `Subject: fleet latency ${i}`, `Date: ${new Date().toUTCString()}`, `Message-ID: <fleet-${i}-${Date.now()}@bench>`, '', `Body ${i}`, ''].join('\r\n');
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-fleet-'));
  const users = Array.from({ length: N }, (_, i) => ({ user: `f${i}`, password: `secret-f${i}` }));
  console.log(`fleet: starting Dovecot with ${N} users (imap client_limit 100)`);
  const dovecot = await startDovecot({ users, imapClientLimit: 100, startTimeoutMs: 60_000 });
  let big: DaemonProcess | null = null;
  let small: DaemonProcess | null = null;
  try {
    const fleet = await writeFleet(dovecot, N, root);
    console.log(`fleet: daemon with ${N} IMAP mailboxes (security ${SECURITY}, ${RATE} logins/s per host, burst ${BURST}, pollInterval ${POLL})`);
    const t0 = Date.now();
    big = new DaemonProcess(fleet);
    const d = big;
    await waitHttp(fleet.port, 60_000);
    // start: until every mailbox has logged in and synced once
    const startCpu = await sampleCpu(d, () => d.connected >= N, 600);
    const startS = (Date.now() - t0) / 1000;
    const logins = (await dovecot.loginTimes()).map((l) => l.at).filter((at) => at >= t0);
    const spreadS = (Math.max(...logins) - Math.min(...logins)) / 1000;
    console.log(`start: ${d.connected}/${N} connected in ${r1(startS)} s; logins ${logins.length}, first→last ${r1(spreadS)} s, max ${maxPerSecond(logins)} in one second`);
    console.log(`start CPU %/s: max ${r1(Math.max(...startCpu))}, mean ${r1(mean(startCpu))}`);

    // steady state: IDLE refreshes and syncs, nothing arriving
    const steadyCpu = await sampleCpu(d, () => false, STEADY_S);
    const rssMb = d.rssMb();
    const sortedSteady = [...steadyCpu].sort((a, b) => b - a);
    console.log(`steady CPU %/s over ${STEADY_S} s: mean ${r1(mean(steadyCpu))}, one-second peak ${r1(sortedSteady[0]!)}, next ${r1(sortedSteady[1] ?? NaN)}; RSS ${r1(rssMb)} MB`);
    const loginsSteady = (await dovecot.loginTimes()).filter((l) => l.at >= t0).length - logins.length;

    // new-mail latency under IDLE
    const lat: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) {
      const u = users[Math.floor(Math.random() * N)]!;
      const from = d.synced.length;
      await dovecot.append(u.user, message(i));
      const sent = Date.now();
      const deadline = sent + 60_000;
      let hit: { at: number } | undefined;
      while (!hit && Date.now() < deadline) {
        hit = d.synced.slice(from).find((s) => s.mailbox === `mb-${u.user}`);
        if (!hit) await sleep(5);
      }
      if (!hit) throw new Error(`no sync of mb-${u.user} within 60 s`);
      lat.push(Math.max(0, hit.at - sent));
      await sleep(100);
    }
    console.log(`IDLE new-mail latency over ${LATENCY_N}: p50 ${pct(lat, 50)} ms, p95 ${pct(lat, 95)} ms, max ${Math.max(...lat)} ms`);

    const bigReload = await reloads(fleet);
    console.log(`reload at ${N}: unchanged ${bigReload.unchangedMs} ms, one changed ${bigReload.oneChangedMs} ms`);
    if (d.errors()) console.log(`daemon errors:\n${d.errors().slice(0, 2000)}`);
    await d.stop();
    big = null;

    const few = await writeFleet(dovecot, FEW, root);
    small = new DaemonProcess(few);
    await waitHttp(few.port, 30_000);
    const s = small;
    for (let i = 0; i < 200 && s.connected < FEW; i++) await sleep(100);
    const fewReload = await reloads(few);
    console.log(`reload at ${FEW}: unchanged ${fewReload.unchangedMs} ms, one changed ${fewReload.oneChangedMs} ms`);
    await small.stop();
    small = null;

    console.log(
      JSON.stringify({
        bench: 'fleet',
        build: MAILROOM ?? 'this checkout',
        mailboxes: N,
        security: SECURITY,
        loginsPerSecond: RATE,
        loginBurst: BURST,
        pollInterval: POLL,
        start_s: r1(startS),
        login_first_to_last_s: r1(spreadS),
        login_max_per_second: maxPerSecond(logins),
        logins_during_steady: loginsSteady,
        start_cpu_max_pct: r1(Math.max(...startCpu)),
        start_cpu_mean_pct: r1(mean(startCpu)),
        steady_cpu_mean_pct: r1(mean(steadyCpu)),
        steady_cpu_peak_pct: r1(sortedSteady[0]!),
        rss_mb: r1(rssMb),
        idle_latency_p50_ms: pct(lat, 50),
        idle_latency_p95_ms: pct(lat, 95),
        reload_unchanged_ms: bigReload.unchangedMs,
        reload_one_changed_ms: bigReload.oneChangedMs,
        reload_few_unchanged_ms: fewReload.unchangedMs,
        reload_few_one_changed_ms: fewReload.oneChangedMs,
      }),
    );
  } finally {
    await big?.stop();
    await small?.stop();
    await dovecot.destroy();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
