// Why this file exists: proves the store's write cost stays bounded as it grows (lowdb rewrites whole
// files, so an unpartitioned store would make every commit O(store)). Run: npx tsx bench/store.ts
// [--tickets 100000]. Fills a temp store and, at 0 / 10k / 50k / 100k tickets, times commit batches
// (new IMAP tickets, new POP3 tickets, articles appended to random old tickets, 50 concurrent
// single-item commits); then at the end times reopen, listTickets, getTicket, and reports disk usage.
// Last line of output: one JSON object {"bench":"store",...}.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sampleItem } from '../test/support/store-sample.js';
import { openTicketStore, type TicketStore } from '../src/store/ticket-store.js';
import type { CommitItem } from '../src/store/types.js';
import { median } from './median.js';

const argTickets = process.argv.indexOf('--tickets');
const TOTAL = argTickets > 0 ? Number(process.argv[argTickets + 1]) : 100_000;
const MILESTONES = [0, 10_000, 50_000, 100_000].map((m) => Math.round((m * TOTAL) / 100_000));
const argSeg = process.argv.indexOf('--segment-tickets');
const SEGMENT_TICKETS = argSeg > 0 ? Number(process.argv[argSeg + 1]) : undefined;
const storeOpts = SEGMENT_TICKETS ? { segmentTickets: SEGMENT_TICKETS } : {};
const BATCH = 100;
const ROUNDS = 10;
const COMPANIES = ['acme', 'globex', 'initech', 'umbrella'];

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let uid = 0;
let uidl = 0;
let made: string[] = [];

function newItem(kind: 'imap' | 'pop3'): CommitItem {
  const n = made.length + uid + uidl;
  const company = COMPANIES[n % COMPANIES.length] as string;
  const prefix = company.slice(0, 4).toUpperCase();
  return kind === 'imap'
    ? sampleItem({ uid: ++uid, company, prefix, mailbox: `${company}-imap`, action: 'seen' })
    : sampleItem({ uidl: `UIDL${++uidl}`, company, prefix: prefix, mailbox: 'big-pop', action: 'keep' });
}

const companyOfPrefix = new Map(COMPANIES.map((c) => [c.slice(0, 4).toUpperCase(), c]));

function reply(): CommitItem {
  const target = made[Math.floor(Math.random() * made.length)] as string;
  const prefix = target.split('-')[0] as string;
  const it = sampleItem({ uid: ++uid, company: companyOfPrefix.get(prefix), prefix, mailbox: 'replies', action: 'seen' });
  it.threadTo = target;
  return it;
}

/** Times the commit only; then, like a poller, performs (here: just completes) its server actions. */
async function commitTimed(s: TicketStore, items: CommitItem[]): Promise<number> {
  const t0 = performance.now();
  const res = await s.commit(items);
  const ms = performance.now() - t0;
  for (const r of res) if (r.created) made.push(r.ticketId);
  const ids = res.map((r) => r.actionId).filter((x): x is string => x !== null);
  if (ids.length > 0) await s.completeActions(ids);
  return ms;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

async function duBytes(p: string): Promise<number> {
  const st = await stat(p);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of await readdir(p)) n += await duBytes(path.join(p, e));
  return n;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mailroom-bench-store-'));
  const out: Record<string, unknown> = { bench: 'store', tickets: TOTAL, batch: BATCH, segmentTickets: SEGMENT_TICKETS ?? 250 };
  try {
    let s = await openTicketStore(dir, storeOpts);
    const points: Record<string, unknown>[] = [];
    for (const m of MILESTONES) {
      // fill up to the milestone with big batches, 4 concurrent pollers (half IMAP, half POP3)
      while (made.length < m) {
        const left = m - made.length;
        const calls = Array.from({ length: 4 }, (_, c) => {
          const k = Math.min(500, Math.ceil(left / 4));
          return commitTimed(s, Array.from({ length: k }, () => newItem(c % 2 === 0 ? 'imap' : 'pop3')));
        });
        await Promise.all(calls);
      }
      const imap: number[] = [];
      const pop: number[] = [];
      const replies: number[] = [];
      const conc: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        imap.push(await commitTimed(s, Array.from({ length: BATCH }, () => newItem('imap'))));
        pop.push(await commitTimed(s, Array.from({ length: BATCH }, () => newItem('pop3'))));
        if (made.length > 0) replies.push(await commitTimed(s, Array.from({ length: 10 }, reply)));
        const t0 = performance.now();
        await Promise.all(Array.from({ length: 50 }, () => commitTimed(s, [newItem('imap')])));
        conc.push(performance.now() - t0);
      }
      const p = {
        atTickets: m,
        imapBatchMs: r2(median(imap)),
        imapPerItemMs: r2(median(imap) / BATCH),
        pop3BatchMs: r2(median(pop)),
        pop3PerItemMs: r2(median(pop) / BATCH),
        reply10ToOldTicketsMs: replies.length ? r2(median(replies)) : null,
        concurrent50SingleMs: r2(median(conc)),
      };
      points.push(p);
      console.log('commit', JSON.stringify(p));
    }
    out.commit = points;
    const first = points[0] as { imapPerItemMs: number };
    const last = points[points.length - 1] as { imapPerItemMs: number };
    out.imapPerItemGrowth = r2(last.imapPerItemMs / first.imapPerItemMs);
    out.io = s.ioStats();
    await s.close();

    const t0 = performance.now();
    s = await openTicketStore(dir, storeOpts);
    out.openMs = Math.round(performance.now() - t0);
    gc();
    out.heapMBAfterOpen = Math.round(process.memoryUsage().heapUsed / 1e6);
    const stats = s.stats();
    out.stats = stats;
    console.log('open', out.openMs, 'ms', stats);

    const time = (n: number, fn: (i: number) => unknown): number => {
      const t = performance.now();
      for (let i = 0; i < n; i++) fn(i);
      return r2(((performance.now() - t) / n) * 1000) / 1000;
    };
    let cursor: string | null = null;
    out.list = {
      firstPage50Ms: time(200, () => s.listTickets({ companies: '*', limit: 50 })),
      companyPage50Ms: time(200, () => s.listTickets({ companies: ['acme'], limit: 50 })),
      deepPages50Ms: time(200, () => {
        const pg = s.listTickets({ companies: '*', limit: 50, cursor });
        cursor = pg.next;
      }),
      descPage50Ms: time(200, () => s.listTickets({ companies: '*', limit: 50, order: 'desc' })),
      heldFilterPage50Ms: time(50, () => s.listTickets({ companies: '*', status: 'held', limit: 50 })),
    };
    const ids = made;
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < 200; i++) {
      const id = ids[Math.floor(Math.random() * ids.length)] as string;
      let t = performance.now();
      await s.getTicket(id);
      cold.push(performance.now() - t);
      t = performance.now();
      await s.getTicket(id);
      warm.push(performance.now() - t);
    }
    out.getTicket = { randomMedianMs: r2(median(cold)), randomP99Ms: r2([...cold].sort((a, b) => a - b)[197] ?? NaN), cachedMedianMs: r2(median(warm)) };
    await s.close();
    const disk = {
      totalMB: r2((await duBytes(dir)) / 1e6),
      segmentsMB: r2((await duBytes(path.join(dir, 'segments'))) / 1e6),
      segmentFiles: (await readdir(path.join(dir, 'segments'))).length,
      metaKB: r2((await duBytes(path.join(dir, 'meta.json'))) / 1e3),
      uidlsKB: r2((await duBytes(path.join(dir, 'uidls'))) / 1e3),
    };
    out.disk = disk;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  made = [];
  console.log(JSON.stringify(out));
}

await main();
