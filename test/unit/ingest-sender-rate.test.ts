// The per-sender cap's counter hits of one batch go to the store in one call (on PostgreSQL one
// statement: a batch of 100 new tickets used to send 100 hit statements, the limit of ingest on a
// busy database), in batch order, each seeing the ones before it, so the cap holds exactly, within a
// batch and across batches. Through the real pipeline and the embedded store's counters, with a
// wrapper that records the calls.
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

/** The store's own counters (window: an hour), recording each call's requests. */
function recordingCounter(s: EmbeddedStores) {
  const calls: { key: string; limit: number; now: number }[][] = [];
  const counter: RateCounter = {
    hits(requests) {
      calls.push(requests);
      return s.control.hits(requests.map((r) => ({ ...r, windowMs: 3_600_000 })));
    },
  };
  return { counter, calls };
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

it("asks a batch's hits in one call, in batch order; the cap holds exactly, within a batch and across batches", async () => {
  const rec = recordingCounter(stores);
  const snap = snapshotOf();
  const limit = snap.mailboxes.desk?.inbound?.senderRateLimit ?? 20;
  const ctx: PipelineContext = { intake: stores.intake, parser: createParsePool({ size: 0 }), snapshot: () => snap, senderRate: rec.counter };
  // 6 distinct senders interleaved with one sender limit + 2 times
  const loop = Array.from({ length: limit + 2 }, (_, i) => mail('loop@client.example', 100 + i));
  const distinct = Array.from({ length: 6 }, (_, i) => mail(`sender${i}@client.example`, i));
  const raws = [...loop.slice(0, 3), ...distinct, ...loop.slice(3)];
  const out = await ingestBatch(ctx, 'desk', raws.map((raw, i) => fetched(raw, i + 1)));
  expect(out).toHaveLength(6 + limit + 2);
  expect(rec.calls).toHaveLength(1);
  const keys = rec.calls[0]!.map((r) => r.key);
  expect(keys).toHaveLength(6 + limit + 2);
  expect(keys.filter((k) => k.includes('loop@'))).toHaveLength(limit + 2);
  expect(keys.slice(3, 9).every((k) => k.includes('sender'))).toBe(true);
  const status = async (o: (typeof out)[number]) => (await stores.tickets.get(o.result.ticketId))!.status;
  const loopOut = [...out.slice(0, 3), ...out.slice(9)];
  const statuses = [];
  for (const o of loopOut) statuses.push(await status(o));
  expect(statuses).toEqual([...Array<string>(limit).fill('open'), 'held', 'held']);
  for (const o of out.slice(3, 9)) expect(await status(o)).toBe('open');
  // the next batch sees this one's hits: the sender is still over its cap, a new one is not
  const next = await ingestBatch(ctx, 'desk', [mail('loop@client.example', 500), mail('fresh@client.example', 501)].map((raw, i) => fetched(raw, 1000 + i)));
  expect(rec.calls).toHaveLength(2);
  expect(await status(next[0]!)).toBe('held');
  expect(await status(next[1]!)).toBe('open');
});
