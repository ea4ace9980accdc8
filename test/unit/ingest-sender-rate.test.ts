// The per-sender cap's counter hits of one batch: different senders' hits are asked at once (on
// PostgreSQL each hit is a statement: a batch of 100 new tickets used to wait for 100 round trips
// in a row, the limit of ingest on a busy database), one sender's hits in batch order, one at a
// time, so each sees the ones before it and the cap holds exactly. Through the real pipeline and
// the embedded store, with a counter that records what is in flight.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createParsePool } from '../../src/ingest/parse-pool.js';
import { ingestBatch, type FetchedMessage, type PipelineContext, type RateCounter } from '../../src/ingest/pipeline.js';
import { openEmbeddedStores, type EmbeddedStores } from '../../src/store/embedded/stores.js';
import { snapshotOf } from '../fixtures/routing/support.js';

const mail = (from: string, n: number): Buffer =>
  Buffer.from(`From: <${from}>\r\nTo: desk@acme.example\r\nSubject: Request ${n}\r\nDate: Tue, 07 May 2024 10:11:12 +0000\r\nMessage-ID: <r${n}@client.example>\r\n\r\nBody ${n}\r\n`);
const fetched = (raw: Buffer, uid: number): FetchedMessage => ({ dedupeKey: `imap:desk:1:${uid}`, raw, tooBig: false, size: raw.length, serverDate: null });

/** A sliding counter (no window: the test is shorter than any) whose hits take a few ms each. */
function slowCounter() {
  const counts = new Map<string, number>();
  const inFlight = new Map<string, number>();
  const order: string[] = [];
  let now = 0;
  let max = 0;
  let maxSameKey = 0;
  const counter: RateCounter = {
    async hit(key, limit) {
      order.push(key);
      now++;
      max = Math.max(max, now);
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      maxSameKey = Math.max(maxSameKey, inFlight.get(key)!);
      await new Promise((r) => setTimeout(r, 5));
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      inFlight.set(key, inFlight.get(key)! - 1);
      now--;
      return n > limit;
    },
  };
  return { counter, order, stats: () => ({ max, maxSameKey }) };
}

let dir: string;
let stores: EmbeddedStores;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-sender-rate-'));
  stores = await openEmbeddedStores(dir);
});
afterEach(async () => {
  await stores.close();
  await rm(dir, { recursive: true, force: true });
});

it("asks different senders' hits at once, one sender's in order and one at a time; the cap holds exactly", async () => {
  const slow = slowCounter();
  const snap = snapshotOf();
  const limit = snap.mailboxes.desk?.inbound?.senderRateLimit ?? 20;
  const ctx: PipelineContext = { intake: stores.intake, parser: createParsePool({ size: 0 }), snapshot: () => snap, senderRate: slow.counter };
  // 6 distinct senders, then one sender limit + 2 times
  const distinct = Array.from({ length: 6 }, (_, i) => mail(`sender${i}@client.example`, i));
  const same = Array.from({ length: limit + 2 }, (_, i) => mail('loop@client.example', 100 + i));
  const out = await ingestBatch(ctx, 'desk', [...distinct, ...same].map((raw, i) => fetched(raw, i + 1)));
  expect(out).toHaveLength(6 + limit + 2);
  // the distinct senders did not wait for each other (serially this was 1)
  expect(slow.stats().max).toBeGreaterThan(1);
  // one sender: never two hits in flight, so the last two are over the cap and held, the others not
  expect(slow.stats().maxSameKey).toBe(1);
  const statuses = [];
  for (const o of out.slice(6)) statuses.push((await stores.tickets.get(o.result.ticketId))!.status);
  expect(statuses).toEqual([...Array<string>(limit).fill('open'), 'held', 'held']);
  for (const o of out.slice(0, 6)) expect((await stores.tickets.get(o.result.ticketId))!.status).toBe('open');
});
