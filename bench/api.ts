// Why this file exists: the ticket API must stay fast at 100k tickets (issue 4, "Done means"). Starts a
// real Daemon on a temp store, seeds it (default 100,000 tickets over 4 companies, every 50th held,
// every 200th dropped), then times requests over HTTP (keep-alive, one at a time) and reports p50/p99:
//   list-first        GET /v1/tickets?limit=50                       (all-companies token)
//   list-first-500    GET /v1/tickets?limit=500
//   list-deep         GET /v1/tickets?limit=50&cursor=<at ~90%>      (cursor deep into the store)
//   list-company      GET /v1/tickets?company=acme&limit=50          (one-company token)
//   list-company-held GET /v1/tickets?company=acme&status=held       (sparse: 4% of acme's tickets match)
//   list-dropped      GET /v1/tickets?status=dropped                 (sparser: 0.5% match, ~10,000 scanned/page)
//   get-random        GET /v1/tickets/:id   random ids (segment loads from disk, cache of 8)
//   get-hot           GET /v1/tickets/:id   one id again and again
//   get-concurrent    get-random with 16 requests in flight (also reports requests/s)
//   store-*           the same list/get called on the store directly, in-process, to separate the
//                     store's share from HTTP + auth + view + JSON
// Run: npx tsx bench/api.ts [--tickets 100000] [--iterations 400]. Last line: {"bench":"api",...}.
import { ticketStoreOf } from '../test/support/store-of.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { Daemon } from '../src/daemon/daemon.js';
import { createLogger } from '../src/observability/logger.js';
import { sampleItem } from '../test/support/store-sample.js';
import type { CommitItem } from '../src/store/types.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const TOTAL = arg('--tickets', 100_000);
const ITER = arg('--iterations', 400);
const BATCH = 1000;
const COMPANIES = ['acme', 'globex', 'initech', 'umbrella'];
const TOKEN_ALL = 'bench-all-companies-0123456789';
const TOKEN_ACME = 'bench-acme-only-0123456789abc';

interface Stat {
  n: number;
  p50: number;
  p99: number;
  max: number;
  bytes: number;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function stat(samples: number[], bytes: number): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { n: s.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(s[s.length - 1] ?? NaN), bytes };
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'mailroom-bench-api-'));
  const dir = path.join(root, 'config');
  await mkdir(dir, { recursive: true });
  const config = {
    version: 1,
    server: {
      listen: '127.0.0.1:0',
      apiTokens: [
        { name: 'platform', token: TOKEN_ALL, companies: ['*'] },
        { name: 'acme-app', token: TOKEN_ACME, companies: ['acme'] },
      ],
    },
    store: { path: path.join(root, 'data') },
    companies: Object.fromEntries(COMPANIES.map((c) => [c, {}])),
  };
  await writeFile(path.join(dir, 'mailroom.yaml'), stringify(config));
  const daemon = new Daemon({ configPath: dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  const base = `http://127.0.0.1:${daemon.http.address()!.port}`;
  const results: Record<string, unknown> = {};
  try {
    // --- seed ---
    const ids: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < TOTAL; i += BATCH) {
      const items: CommitItem[] = [];
      for (let k = i; k < Math.min(TOTAL, i + BATCH); k++) {
        const company = COMPANIES[k % COMPANIES.length] as string;
        items.push(
          sampleItem({
            uid: k + 1,
            company,
            prefix: company.slice(0, 4).toUpperCase(),
            mailbox: `${company}-desk`,
            status: k % 200 === 7 ? 'dropped' : k % 50 === 4 ? 'held' : 'open',
            checkpoint: false,
            action: 'keep',
          }),
        );
      }
      for (const r of await ticketStoreOf(daemon).commit(items)) ids.push(r.ticketId);
      if ((i / BATCH) % 20 === 19) console.log(`seeded ${ids.length} tickets (${Math.round(performance.now() - t0)} ms)`);
    }
    const seedMs = Math.round(performance.now() - t0);
    console.log(`seeded ${ids.length} tickets in ${seedMs} ms`);

    const get = async (p: string, token = TOKEN_ALL): Promise<{ ms: number; bytes: number; body: string }> => {
      const s = performance.now();
      const res = await fetch(base + p, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.text();
      const ms = performance.now() - s;
      if (res.status !== 200) throw new Error(`${p}: HTTP ${res.status} ${body.slice(0, 200)}`);
      return { ms, bytes: Buffer.byteLength(body), body };
    };

    const measure = async (name: string, path: (i: number) => string, token = TOKEN_ALL, iterations = ITER): Promise<void> => {
      for (let i = 0; i < 20; i++) await get(path(i), token); // warm-up
      const samples: number[] = [];
      let bytes = 0;
      for (let i = 0; i < iterations; i++) {
        const r = await get(path(i), token);
        samples.push(r.ms);
        bytes = r.bytes;
      }
      const s = stat(samples, bytes);
      results[name] = s;
      console.log(`${name.padEnd(18)} p50 ${String(s.p50).padStart(7)} ms  p99 ${String(s.p99).padStart(7)} ms  max ${String(s.max).padStart(7)} ms  (${s.bytes} bytes/response, n=${s.n})`);
    };

    // A cursor ~90% deep: walk there once with big pages.
    let deep: string | null = null;
    let walked = 0;
    const walkStart = performance.now();
    while (walked < TOTAL * 0.9) {
      const page = JSON.parse((await get(`/v1/tickets?limit=500${deep ? `&cursor=${deep}` : ''}`)).body) as { items: unknown[]; next: string | null };
      walked += page.items.length;
      if (!page.next) break;
      deep = page.next;
    }
    const walkMs = Math.round(performance.now() - walkStart);
    console.log(`walked ${walked} tickets in pages of 500 to reach a deep cursor: ${walkMs} ms`);

    await measure('list-first', () => '/v1/tickets?limit=50');
    await measure('list-first-500', () => '/v1/tickets?limit=500');
    await measure('list-deep', () => `/v1/tickets?limit=50&cursor=${deep}`);
    await measure('list-company', () => '/v1/tickets?company=acme&limit=50', TOKEN_ACME);
    await measure('list-company-held', () => '/v1/tickets?company=acme&status=held&limit=50', TOKEN_ACME);
    await measure('list-dropped', () => '/v1/tickets?status=dropped&limit=50');
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    await measure('get-random', () => `/v1/tickets/${ids[Math.floor(rand() * ids.length)]}`);
    const hot = ids[Math.floor(ids.length / 2)] as string;
    await measure('get-hot', () => `/v1/tickets/${hot}`);

    // Concurrency: 16 clients doing random gets.
    const CONC = 16;
    const per = Math.ceil(ITER / 2);
    const samples: number[] = [];
    const c0 = performance.now();
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        for (let i = 0; i < per; i++) samples.push((await get(`/v1/tickets/${ids[Math.floor(rand() * ids.length)]}`)).ms);
      }),
    );
    const cMs = performance.now() - c0;
    const cs = stat(samples, 0);
    results['get-concurrent'] = { ...cs, concurrency: CONC, perSecond: Math.round((samples.length / cMs) * 1000) };
    console.log(`get-concurrent     p50 ${cs.p50} ms  p99 ${cs.p99} ms  (${CONC} in flight, ${Math.round((samples.length / cMs) * 1000)} req/s)`);

    // The store's share, without HTTP.
    const direct = async (name: string, fn: (i: number) => Promise<unknown> | unknown): Promise<void> => {
      for (let i = 0; i < 20; i++) await fn(i);
      const samples: number[] = [];
      for (let i = 0; i < ITER; i++) {
        const s = performance.now();
        await fn(i);
        samples.push(performance.now() - s);
      }
      const st = stat(samples, 0);
      results[name] = { n: st.n, p50: st.p50, p99: st.p99, max: st.max };
      console.log(`${name.padEnd(18)} p50 ${String(st.p50).padStart(7)} ms  p99 ${String(st.p99).padStart(7)} ms  max ${String(st.max).padStart(7)} ms`);
    };
    const store = ticketStoreOf(daemon);
    await direct('store-list-first', () => store.listTickets({ companies: '*', limit: 50 }));
    await direct('store-list-dropped', () => store.listTickets({ companies: '*', status: 'dropped', limit: 50 }));
    await direct('store-get-random', () => store.getTicket(ids[Math.floor(rand() * ids.length)] as string));
    await direct('store-get-hot', () => store.getTicket(hot));

    const mem = process.memoryUsage();
    console.log(
      JSON.stringify({
        bench: 'api',
        tickets: TOTAL,
        iterations: ITER,
        seedMs,
        walk500Ms: walkMs,
        ...results,
        rssMiB: Math.round(mem.rss / 1048576),
        heapUsedMiB: Math.round(mem.heapUsed / 1048576),
      }),
    );
  } finally {
    await daemon.stop();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
