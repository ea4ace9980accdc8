// The durable outbox: what a reopen sees after every kind of interruption — the replay, a torn last
// line, the commit record without an outcome (counted as sent, unconfirmed), an attempt without one
// (queued again), compaction (also with records written while it ran), retention, idempotency keys,
// and the lock against a second open.
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutboxJournal } from '../../src/store/outbox-journal.js';
import { OutboxStore, sentPatch } from '../../src/store/outbox-store.js';
import type { OutboxEntry } from '../../src/store/outbox-types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-outbox-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function entry(over: Partial<OutboxEntry> = {}): OutboxEntry {
  const id = `msg_test${++n}`;
  const now = new Date().toISOString();
  return {
    id,
    createdAt: now,
    updatedAt: now,
    purpose: 'message',
    company: 'acme',
    request: { company: 'acme', kind: 'user' },
    mailbox: 'acme-out',
    ticket: null,
    idempotencyKey: null,
    messageId: `${id}.mailroom@acme.example`,
    subject: 'Subject',
    envelope: { from: 'support@acme.example', to: ['a@client.example'] },
    raw: 'From: support@acme.example\r\n\r\nbody \u00e9\r\n',
    size: 30,
    status: 'queued',
    attempts: 0,
    committed: 0,
    nextAttemptAt: null,
    accepted: [],
    rejected: [],
    response: null,
    confirmed: null,
    possibleDuplicate: false,
    lastError: null,
    sentAt: null,
    failedAt: null,
    ...over,
  };
}

/** What a process killed now would leave behind: a copy of the store directory, opened fresh (minus the dead process's LOCK). */
async function afterKill(): Promise<string> {
  const copy = path.join(dir, `killed-${++n}`);
  await cp(path.join(dir, 'outbox'), path.join(copy, 'outbox'), { recursive: true });
  await rm(path.join(copy, 'outbox', 'LOCK'), { force: true });
  return copy;
}

const journals = async () => (await readdir(path.join(dir, 'outbox'))).filter((f) => f.startsWith('journal-'));

describe('outbox store', () => {
  it('replays everything acknowledged, byte-exact, after a reopen', async () => {
    const s = await OutboxStore.open(dir);
    const a = entry();
    const b = entry({ idempotencyKey: 'k1' });
    await Promise.all([s.add(a), s.add(b)]);
    await s.update(a.id, { status: 'retrying', attempts: 1, nextAttemptAt: '2030-01-01T00:00:00.000Z' });
    await s.close();
    const r = await OutboxStore.open(dir);
    expect(r.size).toBe(2);
    expect(r.get(a.id)).toMatchObject({ status: 'retrying', attempts: 1, raw: a.raw, nextAttemptAt: '2030-01-01T00:00:00.000Z' });
    expect(r.get(b.id)?.raw).toBe(b.raw);
    expect(r.findByIdempotencyKey('acme', 'k1')?.id).toBe(b.id);
    expect(r.findByIdempotencyKey('other', 'k1')).toBeUndefined();
    expect(r.recovery).toEqual({ unconfirmed: [], tornTail: false });
    await r.close();
  });

  it('an attempt past the end of data with no outcome is sent, unconfirmed; one before it is queued again', async () => {
    const s = await OutboxStore.open(dir);
    const past = entry();
    const before = entry();
    const retried = entry();
    for (const e of [past, before, retried]) await s.add(e);
    for (const e of [past, before]) await s.update(e.id, { status: 'sending' });
    s.markPastEndOfData(past.id, 1);
    // a retried message: attempt 1 answered 451 after the end of data, attempt 2 not yet past it
    await s.update(retried.id, { status: 'sending' });
    s.markPastEndOfData(retried.id, 1);
    await s.update(retried.id, { status: 'retrying', attempts: 1 });
    await s.update(retried.id, { status: 'sending' });
    await s.flush();
    const r = await OutboxStore.open(await afterKill());
    expect(r.recovery.unconfirmed).toEqual([past.id]);
    expect(r.get(past.id)).toMatchObject({ status: 'sent', confirmed: false, attempts: 1, raw: null, envelope: { from: 'support@acme.example', to: [] } });
    expect(r.get(before.id)).toMatchObject({ status: 'queued', attempts: 0, committed: 0 });
    expect(r.get(retried.id)).toMatchObject({ status: 'retrying', attempts: 1, committed: 1 });
    await r.close();
    await s.close();
  });

  it('the commit record is on disk the moment markPastEndOfData returns (no fsync awaited)', async () => {
    const s = await OutboxStore.open(dir);
    const e = entry();
    await s.add(e);
    await s.update(e.id, { status: 'sending' });
    s.markPastEndOfData(e.id, 1);
    const [file] = await journals();
    const text = await readFile(path.join(dir, 'outbox', file!), 'utf8');
    expect(text.trim().split('\n').at(-1)).toBe(JSON.stringify({ t: 'commit', id: e.id, a: 1 }));
    // Only while the attempt runs: a stale call after the outcome changes nothing.
    await s.update(e.id, { status: 'retrying', attempts: 1 });
    s.markPastEndOfData(e.id, 2);
    expect(s.get(e.id)!.committed).toBe(1);
    await s.close();
  });

  it('ignores a torn last line (a write cut by the crash) and says so', async () => {
    const s = await OutboxStore.open(dir);
    const e = entry();
    await s.add(e);
    await s.close();
    const [file] = await journals();
    await appendFile(path.join(dir, 'outbox', file!), '{"t":"set","id":"' + e.id + '","p":{"status":"se');
    const r = await OutboxStore.open(dir);
    expect(r.recovery.tornTail).toBe(true);
    expect(r.get(e.id)?.status).toBe('queued');
    await r.close();
  });

  it('refuses a journal corrupt in the middle (never guesses)', async () => {
    const s = await OutboxStore.open(dir);
    await s.add(entry());
    await s.close();
    const [file] = await journals();
    const p = path.join(dir, 'outbox', file!);
    const lines = (await readFile(p, 'utf8')).split('\n');
    lines.splice(1, 0, '{garbage');
    await writeFile(p, lines.join('\n'));
    await expect(OutboxStore.open(dir)).rejects.toThrow(/corrupt outbox journal line/);
  });

  it('compacts: one file with the live state; records written during the compaction are carried over', async () => {
    const s = await OutboxStore.open(dir, { compactBytes: 4096 });
    const live = entry();
    await s.add(live);
    for (let i = 0; i < 40; i++) {
      const e = entry({ raw: 'x'.repeat(3000) });
      await s.add(e);
      await s.update(e.id, { status: 'sending' });
      s.markPastEndOfData(e.id, 1);
      await s.update(e.id, { ...sentPatch(e, { at: new Date().toISOString(), response: '250 ok', confirmed: true, accepted: e.envelope.to }), attempts: 1 });
    }
    await s.update(live.id, { status: 'sending' });
    s.markPastEndOfData(live.id, 1); // may land while a compaction is writing
    await s.flush();
    const files = await journals();
    expect(files).toHaveLength(1);
    expect(files[0]).not.toBe('journal-000001.jsonl'); // it was compacted at least once
    const r = await OutboxStore.open(await afterKill());
    expect(r.size).toBe(41);
    expect(r.get(live.id)).toMatchObject({ status: 'sent', confirmed: false });
    expect([...r.entries()].filter((e) => e.status === 'sent' && e.confirmed).length).toBe(40);
    await r.close();
    await s.close();
  });

  it('a crash mid-compaction leaves the older complete file as the truth', async () => {
    const s = await OutboxStore.open(dir);
    const e = entry();
    await s.add(e);
    await s.close();
    const [file] = await journals();
    const no = Number(/(\d+)/.exec(file!)![1]);
    // the next file exists but is not a base file (as if the rename never happened it would not exist at all;
    // a leftover temp file is removed at open)
    await writeFile(path.join(dir, 'outbox', `.journal-${String(no + 1).padStart(6, '0')}.jsonl.1.abc.tmp`), '{"t":"base"');
    const r = await OutboxStore.open(dir);
    expect(r.get(e.id)?.status).toBe('queued');
    expect((await readdir(path.join(dir, 'outbox'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await r.close();
  });

  it('drops finished messages past the retention at the next open, keeps the live ones', async () => {
    const s = await OutboxStore.open(dir);
    const old = entry();
    const live = entry();
    await s.add(old);
    await s.add(live);
    await s.update(old.id, { ...sentPatch(old, { at: '2020-01-01T00:00:00.000Z', response: '250', confirmed: true, accepted: [] }), attempts: 1 });
    await s.close();
    const r = await OutboxStore.open(dir, { retentionMs: 86_400_000 });
    expect(r.get(old.id)).toBeUndefined();
    expect(r.get(live.id)?.status).toBe('queued');
    await r.close();
  });

  it('one open at a time', async () => {
    const s = await OutboxStore.open(dir);
    await expect(OutboxStore.open(dir)).rejects.toThrow(/already open|locked/);
    await s.close();
  });

  it('journal replay starts at the newest base file', async () => {
    const d = path.join(dir, 'j');
    await mkdir(d);
    const j1 = await OutboxJournal.create(d, '{"t":"base","v":1,"at":"x"}\n{"t":"put","e":{"id":"a"}}\n', []);
    await j1.close();
    // a crash after the compacted file was renamed into place, before the old one was deleted
    await writeFile(path.join(d, 'journal-000002.jsonl'), '{"t":"base","v":1,"at":"y"}\n{"t":"put","e":{"id":"b"}}\n');
    const r = await OutboxJournal.replay(d);
    expect(r.files).toEqual([1, 2]);
    expect(r.records.map((x) => (x.t === 'put' ? x.e.id : x.t))).toEqual(['base', 'b']);
  });
});
