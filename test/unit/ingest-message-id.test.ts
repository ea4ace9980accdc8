// A store written before Message-ID dedupe compared content (issue 20) holds `mid:<company>:<id>`
// keys without a hash. Through the real pipeline and store: a copy of such an old article still
// joins it; a different message with its Message-ID becomes its own article, flagged.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createParsePool } from '../../src/ingest/parse-pool.js';
import { parseMessage } from '../../src/ingest/parse.js';
import { ingestBatch, type FetchedMessage, type PipelineContext } from '../../src/ingest/pipeline.js';
import { openEmbeddedStores, type EmbeddedStores } from '../../src/store/embedded/stores.js';
import type { TicketStore } from '../../src/store/ticket-store.js';
import { snapshotOf } from '../fixtures/routing/support.js';

const ID = 'reused-7@buggy-mailer.example';
const mail = (subject: string, body: string, trace = ''): Buffer =>
  Buffer.from(`${trace}From: Jane <jane@customer.example>\r\nTo: desk@acme.example\r\nSubject: ${subject}\r\nDate: Tue, 07 May 2024 10:11:12 +0000\r\nMessage-ID: <${ID}>\r\n\r\n${body}\r\n`);
const A = mail('Printer offline', 'Floor 2 printer is offline.');

let dir: string;
let stores: EmbeddedStores;
let store: TicketStore;
let ctx: PipelineContext;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-mid-'));
  stores = await openEmbeddedStores(dir);
  store = stores.parts.tickets;
  ctx = { intake: stores.intake, parser: createParsePool({ size: 0 }), snapshot: () => snapshotOf() };
  // what the previous version committed for A: its transport key and the bare company + Message-ID key
  const p = await parseMessage(A);
  await store.commit([{
    article: {
      dedupeKeys: ['imap:desk:1:1', `mid:acme:${ID}`], mailbox: 'desk', receivedAt: new Date().toISOString(), serverDate: null,
      messageId: p.messageId, inReplyTo: [], references: [], subject: p.subject, from: p.from, to: p.to, cc: p.cc, headers: p.headers,
      text: p.text, html: p.html, attachments: [], rawRef: null, size: A.length, flags: [],
    },
    ticket: { company: 'acme', contract: 'main', status: 'open', prefix: 'ACME' },
  }]);
});
afterEach(async () => {
  await stores.close();
  await rm(dir, { recursive: true, force: true });
});

const fetched = (raw: Buffer, uid: number): FetchedMessage => ({ dedupeKey: `imap:desk:1:${uid}`, raw, tooBig: false, size: raw.length, serverDate: null });

describe('old mid: keys (no content hash)', () => {
  it('a copy of the old article (other trace headers) joins it, and later copies find it by the content key', async () => {
    const copy = mail('Printer offline', 'Floor 2 printer is offline.', 'Received: from mx2 by imap; Tue, 07 May 2024 10:11:13 +0000\r\nDelivered-To: desk@acme.example\r\n');
    const [r] = await ingestBatch(ctx, 'desk', [fetched(copy, 2)]);
    expect(r!.result.duplicate).toBe(true);
    expect(r!.result.ticketId).toBe('ACME-000001');
    const art = (await store.getTicket('ACME-000001'))!.articles[0]!;
    expect(art.dedupeKeys.some((k) => k.startsWith('midc:acme:'))).toBe(true);
    const [again] = await ingestBatch(ctx, 'desk', [fetched(copy, 3)]);
    expect(again!.result).toMatchObject({ duplicate: true, ticketId: 'ACME-000001' });
  });

  it('a different message with the same Message-ID: its own ticket, flagged duplicate-message-id; its re-delivery is not doubled', async () => {
    const b = mail('Invoice wrong', 'The amount should be 1,200.');
    const [r] = await ingestBatch(ctx, 'desk', [fetched(b, 2)]);
    expect(r!.result.duplicate).toBe(false);
    expect(r!.result.ticketId).not.toBe('ACME-000001');
    const t = (await store.getTicket(r!.result.ticketId))!;
    expect(t.articles[0]!.flags).toContain('duplicate-message-id');
    expect(t.articles[0]!.dedupeKeys).not.toContain(`mid:acme:${ID}`);
    const [again] = await ingestBatch(ctx, 'desk', [fetched(b, 3)]);
    expect(again!.result).toMatchObject({ duplicate: true, ticketId: r!.result.ticketId });
  });

  it('A and a different B with its Message-ID in one batch: two articles', async () => {
    const id2 = 'fresh-1@buggy-mailer.example';
    const x = Buffer.from(A.toString().replaceAll(ID, id2));
    const y = Buffer.from(mail('Other', 'Other body').toString().replaceAll(ID, id2));
    const rs = await ingestBatch(ctx, 'desk', [fetched(x, 4), fetched(y, 5), fetched(x, 6)]);
    expect(rs.map((r) => r.result.duplicate)).toEqual([false, false, true]);
    expect(rs[2]!.result.ticketId).toBe(rs[0]!.result.ticketId);
    expect((await store.getTicket(rs[1]!.result.ticketId))!.articles[0]!.flags).toContain('duplicate-message-id');
  });
});
