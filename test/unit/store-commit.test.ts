// Why this file exists: unit tests for the ticket store's commit semantics on real files — group
// commit, duplicates by each key kind, ticket ids across reopen, checkpoints, pending actions,
// UIDLs, threading, bounded writes (only the touched segment is rewritten) and visibility.
import { copyFile, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sampleItem } from '../support/store-sample.js';
import { openTicketStore, type TicketStore } from '../../src/store/ticket-store.js';

let dir: string;
let store: TicketStore | null = null;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-store-'));
});
afterEach(async () => {
  await store?.close();
  store = null;
  await rm(dir, { recursive: true, force: true });
});
async function open(opts = {}): Promise<TicketStore> {
  await store?.close();
  store = await openTicketStore(dir, opts);
  return store;
}

describe('group commit', () => {
  it('coalesces concurrent commit calls into few durable writes', async () => {
    const s = await open();
    const calls = 50;
    const results = await Promise.all(
      Array.from({ length: calls }, (_, i) => s.commit([sampleItem({ uid: i + 1, mailbox: `box${i % 5}` })])),
    );
    expect(new Set(results.map((r) => r[0]?.ticketId)).size).toBe(calls);
    const io = s.ioStats();
    expect(io.waiters).toBe(calls);
    expect(io.flushes).toBeGreaterThanOrEqual(1);
    expect(io.flushes).toBeLessThanOrEqual(2);
    // one write per touched file per flush: 1 segment + meta (no UIDLs for IMAP)
    expect(io.fileWrites).toBe(io.flushes * 2);
  });

  it('calls arriving while a flush is in progress share the next one', async () => {
    const s = await open();
    const first = s.commit([sampleItem({ uid: 1 })]);
    await new Promise((r) => setImmediate(r)); // first flush has started
    const more = Array.from({ length: 20 }, (_, i) => s.commit([sampleItem({ uid: i + 2 })]));
    await Promise.all([first, ...more]);
    expect(s.ioStats().flushes).toBeLessThanOrEqual(3);
    expect(s.stats().tickets).toBe(21);
  });
});

describe('duplicates', () => {
  it('detects a duplicate by IMAP key, POP3 key and message-id key', async () => {
    const s = await open();
    const [a] = await s.commit([sampleItem({ uid: 7, messageId: '<a@x>' })]);
    const [b] = await s.commit([sampleItem({ uidl: 'U1', mailbox: 'pop', messageId: '<b@x>' })]);
    expect(a).toMatchObject({ ticketId: 'ACME-000001', articleNo: 1, duplicate: false, created: true });
    expect(b).toMatchObject({ ticketId: 'ACME-000002', created: true });

    const byImap = sampleItem({ uid: 7, messageId: '<other@x>' });
    const byPop = sampleItem({ uidl: 'U1', mailbox: 'pop', messageId: null });
    const byMid = sampleItem({ uid: 99, mailbox: 'sales', messageId: '<a@x>' });
    const res = await s.commit([byImap, byPop, byMid]);
    expect(res.map((r) => [r.ticketId, r.articleNo, r.duplicate, r.created])).toEqual([
      ['ACME-000001', 1, true, false],
      ['ACME-000002', 1, true, false],
      ['ACME-000001', 1, true, false],
    ]);
    expect(s.stats()).toMatchObject({ tickets: 2, articles: 2 });
    // keys first seen on a duplicate become aliases of the existing article
    expect(s.hasKey('imap:sales:1:99')).toBe(true);
    expect(s.hasKey('mid:acme:<other@x>')).toBe(true);
  });

  it('a later item in the same call may duplicate an earlier one', async () => {
    const s = await open();
    const res = await s.commit([sampleItem({ uid: 1 }), sampleItem({ uid: 1 }), sampleItem({ uid: 2 })]);
    expect(res.map((r) => [r.ticketId, r.duplicate])).toEqual([
      ['ACME-000001', false],
      ['ACME-000001', true],
      ['ACME-000002', false],
    ]);
  });

  it('duplicates still record afterFetch, checkpoint and UIDL', async () => {
    const s = await open();
    await s.commit([sampleItem({ uid: 5, messageId: '<dup@x>', checkpoint: false, action: 'keep' })]);
    expect(s.pendingActions('support')).toEqual([]);
    const [r] = await s.commit([sampleItem({ uid: 6, mailbox: 'support', messageId: '<dup@x>', action: 'delete' })]);
    expect(r?.duplicate).toBe(true);
    expect(s.getCheckpoint('support', 'INBOX')).toEqual({ uidValidity: 1, uid: 6 });
    expect(s.pendingActions('support')).toMatchObject([{ uid: 6, action: 'delete', ticketId: 'ACME-000001', id: r?.actionId }]);
    const [p] = await s.commit([sampleItem({ uidl: 'Z', mailbox: 'pop', messageId: '<dup@x>' })]);
    expect(p?.duplicate).toBe(true);
    expect(s.hasUidl('pop', 'Z')).toBe(true);
  });

  it('rejects a whole call with an invalid item and applies nothing', async () => {
    const s = await open();
    const bad = sampleItem({ uid: 2 });
    bad.article.dedupeKeys = [];
    await expect(s.commit([sampleItem({ uid: 1 }), bad])).rejects.toMatchObject({ code: 'bad-input' });
    expect(s.stats().tickets).toBe(0);
    expect(s.hasKey('imap:support:1:1')).toBe(false);
  });
});

describe('ticket ids', () => {
  it('count per prefix, continue across reopen, never reused', async () => {
    let s = await open();
    await s.commit([sampleItem({ uid: 1 }), sampleItem({ uid: 2 })]);
    const [o] = await s.commit([sampleItem({ uid: 3, company: 'other', prefix: 'OTH' })]);
    expect(o?.ticketId).toBe('OTH-000001');
    s = await open();
    const res = await s.commit([sampleItem({ uid: 4 }), sampleItem({ uid: 5, company: 'other', prefix: 'OTH' })]);
    expect(res.map((r) => r.ticketId)).toEqual(['ACME-000003', 'OTH-000002']);
  });

  it('are recovered from segments when meta.json is older (crash between the two writes)', async () => {
    let s = await open();
    await s.commit([sampleItem({ uid: 1 })]);
    await copyFile(path.join(dir, 'meta.json'), path.join(dir, 'old-meta'));
    await s.commit([sampleItem({ uid: 2 })]);
    await s.close();
    store = null;
    await copyFile(path.join(dir, 'old-meta'), path.join(dir, 'meta.json'));
    s = await open();
    expect(s.hasKey('imap:support:1:2')).toBe(true);
    const [r] = await s.commit([sampleItem({ uid: 3 })]);
    expect(r?.ticketId).toBe('ACME-000003');
  });
});

describe('checkpoints', () => {
  it('never move backwards, survive reopen, reset on UIDVALIDITY change', async () => {
    let s = await open();
    const cp = (uid: number, uidValidity = 1) => ({ ...sampleItem({ uid, uidValidity, checkpoint: true, action: 'keep' }) });
    await s.commit([cp(10), cp(4)]);
    expect(s.getCheckpoint('support', 'INBOX')).toEqual({ uidValidity: 1, uid: 10 });
    await s.commit([cp(8)]);
    expect(s.getCheckpoint('support', 'INBOX')).toEqual({ uidValidity: 1, uid: 10 });
    expect(s.getCheckpoint('support', 'Other')).toBeNull();
    s = await open();
    expect(s.getCheckpoint('support', 'INBOX')).toEqual({ uidValidity: 1, uid: 10 });

    await s.commit([sampleItem({ uid: 11, action: 'delete', checkpoint: true })]);
    expect(s.pendingActions('support')).toHaveLength(1);
    await s.resetCheckpoint('support', 'INBOX', 2);
    expect(s.getCheckpoint('support', 'INBOX')).toEqual({ uidValidity: 2, uid: 0 });
    expect(s.pendingActions('support')).toEqual([]); // old-UIDVALIDITY uids must not be acted on
    await s.commit([cp(3, 1)]); // stale commit under the old UIDVALIDITY is ignored
    expect(s.getCheckpoint('support', 'INBOX')).toEqual({ uidValidity: 2, uid: 0 });
    await s.commit([cp(3, 2)]);
    s = await open();
    expect(s.getCheckpoint('support', 'INBOX')).toEqual({ uidValidity: 2, uid: 3 });
    await s.resetCheckpoint('support', 'INBOX', 2); // same UIDVALIDITY: not a change, no rewind
    expect(s.getCheckpoint('support', 'INBOX')).toEqual({ uidValidity: 2, uid: 3 });
  });
});

describe('pending actions and UIDLs', () => {
  it('are restored from the segments when meta.json is older (crash between the two writes), not shown by the API', async () => {
    let s = await open();
    const [done] = await s.commit([sampleItem({ uid: 1, action: 'move' })]);
    await s.completeActions([done!.actionId!]);
    await copyFile(path.join(dir, 'meta.json'), path.join(dir, 'old-meta'));
    const [created] = await s.commit([sampleItem({ uid: 2, action: 'move' })]);
    const [threaded] = await s.commit([sampleItem({ uid: 3, action: 'delete', threadTo: created!.ticketId })]);
    const [dup] = await s.commit([sampleItem({ uid: 4, mailbox: 'other', action: 'seen', messageId: '<m2.support@example.com>' })]);
    const [pop] = await s.commit([sampleItem({ uidl: 'P9', mailbox: 'pop', action: 'delete' })]);
    expect(dup?.duplicate).toBe(true);
    await s.close();
    store = null;
    await copyFile(path.join(dir, 'old-meta'), path.join(dir, 'meta.json')); // the last four meta.json writes never landed
    s = await open();
    expect(s.pendingActions('support')).toMatchObject([
      { id: created!.actionId, uid: 2, action: 'move', moveTo: 'Done', ticketId: created!.ticketId, articleNo: 1 },
      { id: threaded!.actionId, uid: 3, action: 'delete', ticketId: created!.ticketId, articleNo: 2 },
    ]);
    expect(s.pendingActions('other')).toMatchObject([{ id: dup!.actionId, uid: 4, action: 'seen', ticketId: created!.ticketId, articleNo: 1 }]);
    expect(s.pendingActions('pop')).toMatchObject([{ id: pop!.actionId, kind: 'pop3', uidl: 'P9', action: 'delete' }]);
    // the completed one stays done, and new actions are numbered after the restored ones
    const [next] = await s.commit([sampleItem({ uid: 5, action: 'seen' })]);
    expect(Number(next!.actionId!.slice(3))).toBeGreaterThan(Number(pop!.actionId!.slice(3)));
    expect(s.pendingActions('support').map((a) => a.uid)).toEqual([2, 3, 5]);
    expect((await s.getTicket(created!.ticketId))!.articles.map((a) => 'actions' in a)).toEqual([false, false]);
    // once completed they are not restored again
    await s.completeActions(['support', 'other', 'pop'].flatMap((m) => s.pendingActions(m).map((a) => a.id)));
    s = await open();
    expect(s.stats().pendingActions).toBe(0);
  });

  it('survive reopen until completed (durably)', async () => {
    let s = await open();
    const [a, b] = await s.commit([sampleItem({ uid: 1, action: 'move' }), sampleItem({ uidl: 'P1', mailbox: 'pop', action: 'delete' })]);
    s = await open();
    expect(s.pendingActions('support')).toMatchObject([{ id: a?.actionId, kind: 'imap', uid: 1, action: 'move', moveTo: 'Done' }]);
    expect(s.pendingActions('pop')).toMatchObject([{ id: b?.actionId, kind: 'pop3', uidl: 'P1', action: 'delete' }]);
    expect(s.stats().pendingActions).toBe(2);
    await s.completeActions([a?.actionId as string]);
    s = await open();
    expect(s.pendingActions('support')).toEqual([]);
    expect(s.pendingActions('pop')).toHaveLength(1);
    expect(s.hasUidl('pop', 'P1')).toBe(true);
  });

  it('an identical action recorded twice (redelivery after crash) stays one action', async () => {
    const s = await open();
    const [a] = await s.commit([sampleItem({ uid: 1, action: 'delete' })]);
    const [b] = await s.commit([sampleItem({ uid: 1, action: 'delete' })]);
    expect(b?.duplicate).toBe(true);
    expect(b?.actionId).toBe(a?.actionId);
    expect(s.pendingActions('support')).toHaveLength(1);
  });

  it('UIDL sets live per mailbox and can be pruned durably', async () => {
    let s = await open();
    await s.commit(['a', 'b', 'c'].map((u) => sampleItem({ uidl: u, mailbox: 'pop' })));
    await s.commit([sampleItem({ uidl: 'a', mailbox: 'pop2' })]);
    expect(await s.pruneUidls('pop', new Set(['b', 'x']))).toBe(2);
    s = await open();
    expect([...s.uidls('pop')]).toEqual(['b']);
    expect([...s.uidls('pop2')]).toEqual(['a']);
    expect(s.hasUidl('pop', 'a')).toBe(false);
    expect((await readdir(path.join(dir, 'uidls'))).length).toBe(2);
  });
});

describe('threading', () => {
  it('finds tickets by message-id / stored references and appends articles', async () => {
    let s = await open();
    const [t] = await s.commit([sampleItem({ uid: 1, messageId: '<root@x>', references: ['<older@x>'] })]);
    const id = t?.ticketId as string;
    expect(s.findByMessageIds('acme', ['<nope@x>', 'root@x'])).toBe(id);
    expect(s.findByMessageIds('acme', ['<older@x>'])).toBe(id);
    expect(s.findByMessageIds('other', ['<root@x>'])).toBeNull();

    const [r] = await s.commit([sampleItem({ uid: 2, messageId: '<reply@x>', inReplyTo: ['<root@x>'], threadTo: id })]);
    expect(r).toMatchObject({ ticketId: id, articleNo: 2, created: false, duplicate: false });
    // another tenant can never be threaded onto this ticket
    const [x] = await s.commit([sampleItem({ uid: 3, company: 'other', prefix: 'OTH', threadTo: id })]);
    expect(x).toMatchObject({ ticketId: 'OTH-000001', created: true });

    s = await open();
    expect(s.findByMessageIds('acme', ['<reply@x>'])).toBe(id);
    const ticket = await s.getTicket(id);
    expect(ticket?.articles.map((a) => [a.no, a.messageId])).toEqual([
      [1, '<root@x>'],
      [2, '<reply@x>'],
    ]);
    expect(ticket).toMatchObject({ articleCount: 2, subject: 'Order problem 1', company: 'acme' });
    expect(s.findByTicketId(id)).toMatchObject({ id, articleCount: 2 });
    expect(s.findByTicketId('ACME-999999')).toBeNull();
  });
});

describe('bounded writes', () => {
  it('an article on an old ticket rewrites only that ticket segment', async () => {
    let s = await open({ segmentTickets: 10 });
    const res = await s.commit(Array.from({ length: 35 }, (_, i) => sampleItem({ uid: i + 1, checkpoint: false, action: 'keep' })));
    const segDir = path.join(dir, 'segments');
    expect((await readdir(segDir)).sort()).toEqual(['seg-000000.json', 'seg-000001.json', 'seg-000002.json', 'seg-000003.json']);
    s = await open({ segmentTickets: 10, segmentCache: 1 });
    const mtimes = async () => Object.fromEntries(await Promise.all((await readdir(segDir)).map(async (f) => [f, (await stat(path.join(segDir, f))).mtimeMs])));
    const before = await mtimes();
    await new Promise((r) => setTimeout(r, 20));
    const io0 = s.ioStats().fileWrites;
    const [r] = await s.commit([sampleItem({ uid: 100, threadTo: res[3]?.ticketId, checkpoint: false, action: 'keep' })]);
    expect(r?.articleNo).toBe(2);
    expect(s.ioStats().fileWrites - io0).toBe(1);
    const after = await mtimes();
    expect(Object.keys(after).filter((f) => after[f] !== before[f])).toEqual(['seg-000000.json']);
    expect((await s.getTicket(res[3]?.ticketId as string))?.articles).toHaveLength(2);
    expect((await s.getTicket(res[33]?.ticketId as string))?.articles).toHaveLength(1);
  });

  it('a rewritten segment holds every change since its last write (tickets unchanged since are reused as written)', async () => {
    let s = await open({ segmentTickets: 10 });
    const res = await s.commit(Array.from({ length: 6 }, (_, i) => sampleItem({ uid: i + 1, action: 'keep' })));
    const ids = res.map((r) => r.ticketId);
    await s.commit([sampleItem({ uid: 7, threadTo: ids[1], action: 'keep' })]); // reply: article 2 of ticket 2
    await s.setStatus(ids[2]!, 'rejected');
    await s.commit([sampleItem({ uid: 8, mailbox: 'other', messageId: '<m4.support@example.com>', action: 'seen' })]); // alias key + action on ticket 4
    await s.commit([sampleItem({ uid: 9, action: 'keep' })]); // and one more new ticket in the same segment
    const file = JSON.parse(await readFile(path.join(dir, 'segments', 'seg-000000.json'), 'utf8')) as { v: number; segment: number; tickets: { id: string; status: string; articles: { dedupeKeys: string[]; actions?: unknown[] }[] }[] };
    expect(file).toMatchObject({ v: 1, segment: 0 });
    expect(file.tickets.map((t) => t.id)).toEqual([...ids, expect.any(String)]);
    expect(file.tickets[1]!.articles).toHaveLength(2);
    expect(file.tickets[2]!.status).toBe('rejected');
    expect(file.tickets[3]!.articles[0]!.dedupeKeys).toContain('imap:other:1:8');
    expect(file.tickets[3]!.articles[0]!.actions).toHaveLength(1);
    s = await open({ segmentTickets: 10 });
    expect((await s.getTicket(ids[1]!))!.articles).toHaveLength(2);
    expect((await s.getTicket(ids[2]!))!.status).toBe('rejected');
    expect(s.hasKey('imap:other:1:8')).toBe(true);
    expect(s.pendingActions('other')).toHaveLength(1);
  });

  it('a segment also closes once its file reaches segmentBytes', async () => {
    const s = await open({ segmentBytes: 1 });
    for (let i = 1; i <= 3; i++) await s.commit([sampleItem({ uid: 2 * i }), sampleItem({ uid: 2 * i + 1 })]);
    expect((await readdir(path.join(dir, 'segments'))).length).toBe(3);
  });
});

describe('status and visibility', () => {
  it('setStatus is durable; unknown ids report false', async () => {
    let s = await open();
    const [r] = await s.commit([sampleItem({ uid: 1, status: 'held' })]);
    expect(await s.setStatus(r?.ticketId as string, 'open')).toBe(true);
    expect(await s.setStatus('ACME-424242', 'open')).toBe(false);
    s = await open();
    expect((await s.getTicket(r?.ticketId as string))?.status).toBe('open');
  });

  it('hides tickets from the API until they are durable, but dedupe sees them at once', async () => {
    const s = await open();
    const p = s.commit([sampleItem({ uid: 1 })]);
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => queueMicrotask(r));
    expect(s.hasKey('imap:support:1:1')).toBe(true);
    expect(s.listTickets({ companies: '*', limit: 10 }).items).toEqual([]);
    expect(await s.getTicket('ACME-000001')).toBeNull();
    await p;
    expect(s.listTickets({ companies: '*', limit: 10 }).items.map((t) => t.id)).toEqual(['ACME-000001']);
    expect(s.stats()).toEqual({ tickets: 1, articles: 1, pendingActions: 1 });
  });

  it('rejects use after close', async () => {
    const s = await open();
    await s.close();
    store = null;
    await expect(s.commit([sampleItem({ uid: 1 })])).rejects.toMatchObject({ code: 'closed' });
  });
});
