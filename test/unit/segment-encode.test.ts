// Why this file exists: a segment file is built from per-ticket cached JSON bytes (segments.ts), so a
// flush re-encodes only the tickets that changed. These tests pin that the bytes on disk are always
// exactly JSON.stringify of the segment in memory, after every kind of change, and survive a reopen.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sampleItem } from '../support/store-sample.js';
import { Segments, type StoredTicket } from '../../src/store/segments.js';
import { openTicketStore, type TicketStore } from '../../src/store/ticket-store.js';

let dir: string;
let store: TicketStore | null = null;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-segenc-'));
});
afterEach(async () => {
  await store?.close();
  store = null;
  await rm(dir, { recursive: true, force: true });
});

function ticket(id: string, text: string): StoredTicket {
  return {
    id,
    seq: 1,
    company: 'acme',
    contract: null,
    status: 'open',
    type: null,
    group: null,
    priority: null,
    tags: [],
    fields: {},
    prefix: 'ACME',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    articles: [{ text } as never],
  };
}

const bytesOf = (parts: unknown): string => Buffer.concat(parts as Buffer[]).toString('utf8');

describe('segment encoding cache', () => {
  it('writes exactly JSON.stringify of the segment, re-encoding a changed ticket and only when marked', () => {
    const segs = new Segments(dir, { maxTickets: 10, maxBytes: 1 << 20, cacheSize: 2 });
    const a = ticket('ACME-000001', 'ação – naïve “quotes” \u0000 \ud83d\ude00');
    const b = ticket('ACME-000002', 'plain');
    const no = segs.addTicket(a);
    segs.addTicket(b);
    const seg = segs.get(no)!;
    const [first] = segs.snapshot();
    expect(bytesOf(first!.data)).toBe(JSON.stringify(seg.db.data));
    expect(JSON.parse(bytesOf(first!.data)).tickets.map((t: StoredTicket) => t.id)).toEqual([a.id, b.id]);

    b.status = 'held';
    segs.markDirty(no, b.id);
    const [second] = segs.snapshot();
    expect(bytesOf(second!.data)).toBe(JSON.stringify(seg.db.data));
    expect(bytesOf(second!.data)).toContain('"status":"held"');

    // a change without markDirty is not seen: the cache is what gets written (and markDirty is the rule)
    a.status = 'dropped';
    segs.markDirty(no, b.id);
    const [third] = segs.snapshot();
    expect(bytesOf(third!.data)).not.toContain('"status":"dropped"');
    segs.markDirty(no, a.id);
    expect(bytesOf(segs.snapshot()[0]!.data)).toBe(JSON.stringify(seg.db.data));
  });

  it('a store whose old tickets got replies, aliases and status changes reads back as it was in memory', async () => {
    store = await openTicketStore(dir, { segmentTickets: 3 });
    const created = [];
    for (let i = 1; i <= 7; i++) created.push((await store.commit([sampleItem({ uid: i, messageId: `<m${i}@x>` })]))[0]!);
    // a reply onto the first (old, full) segment, a duplicate with a new key, a status change
    await store.commit([sampleItem({ uid: 8, messageId: '<r1@x>', threadTo: created[0]!.ticketId, action: 'keep' })]);
    await store.commit([sampleItem({ uid: 2, mailbox: 'other', messageId: '<m2@x>', action: 'keep' })]);
    expect(await store.setStatus(created[4]!.ticketId, 'held')).toBe(true);
    const before = await Promise.all(created.map((c) => store!.getTicket(c.ticketId)));
    await store.close();

    const files = (await readdir(path.join(dir, 'segments'))).filter((n) => n.endsWith('.json'));
    const texts: Record<string, string> = {};
    for (const f of files) texts[f] = await readFile(path.join(dir, 'segments', f), 'utf8');
    expect(files.length).toBe(3);
    for (const f of files) expect(() => JSON.parse(texts[f]!)).not.toThrow();

    store = await openTicketStore(dir, { segmentTickets: 3 });
    const after = await Promise.all(created.map((c) => store!.getTicket(c.ticketId)));
    expect(after).toEqual(before);
    expect(after[0]!.articles.length).toBe(2);
    expect(after[4]!.status).toBe('held');
    // the duplicate's new key was written into the old ticket's article as an alias
    expect(store.findKey('imap:other:1:2')?.ticketId).toBe(created[1]!.ticketId);
    expect(store.stats()).toMatchObject({ tickets: 7, articles: 8 });
  });
});
