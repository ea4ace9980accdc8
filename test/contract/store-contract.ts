// Why this file exists: the one behavioural suite of the store port (src/store/port.ts). Every store
// implementation runs it through its own *.test.ts with a factory; what it asserts is what the daemon
// relies on, whatever keeps the bytes. File layouts and crash tests of one implementation stay in its
// own tests.
import { describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../src/store/outbox-types.js';
import { soleOwner, type Fence, type IntakeItem, type Stores } from '../../src/store/port.js';
import { sampleItem, type SampleOptions } from '../support/store-sample.js';
import type { SuspensionRecord } from '../../src/store/control-types.js';

export interface StoreFactory {
  name: string;
  /** A new, empty store. */
  fresh(): Promise<Stores>;
  /** Close `s` and open the same store again (a restart). */
  reopen(s: Stores): Promise<Stores>;
  /** A fence a newer owner holds for `mailbox` (the previous one is then stale), or null when the
   *  implementation has one owner and accepts any fence. */
  takeOver(s: Stores, mailbox: string): Promise<Fence | null>;
}

const item = (o: SampleOptions & { webhooks?: string[]; gated?: boolean } = {}): IntakeItem => ({
  ...sampleItem(o),
  ...(o.webhooks && { deliveries: { webhooks: o.webhooks, gated: o.gated ?? false } }),
});

function outboxEntry(id: string, o: Partial<OutboxEntry> = {}): OutboxEntry {
  const now = new Date().toISOString();
  return {
    id, createdAt: now, updatedAt: now, purpose: 'message', company: 'acme', request: { kind: 'user', company: 'acme' }, mailbox: 'desk', ticket: null,
    idempotencyKey: null, messageId: `${id}@mailroom.test`, subject: 'Hello', envelope: { from: 'desk@acme.example', to: ['a@b.example'] }, raw: 'Subject: Hello\r\n\r\nHi\r\n',
    size: 24, status: 'queued', attempts: 0, committed: 0, nextAttemptAt: null, accepted: [], rejected: [], response: null, confirmed: null, possibleDuplicate: false,
    lastError: null, sentAt: null, failedAt: null, ...o,
  };
}

const suspension = (mailbox: string): SuspensionRecord => ({ mailbox, reason: 'login refused', code: 'AUTHENTICATIONFAILED', error: null, source: 'server', at: new Date().toISOString(), credentials: 'fp', notified: false });

export function storeContract(f: StoreFactory): void {
  const F = soleOwner('support');
  const withStore = (fn: (s: Stores) => Promise<Stores | void>) => async () => {
    let s = await f.fresh();
    try {
      s = (await fn(s)) ?? s;
    } finally {
      await s.close();
    }
  };

  describe(`store contract: ${f.name}`, () => {
    describe('intake', () => {
      it('commits tickets, articles, checkpoint and pending actions together, visible after a restart', withStore(async (s) => {
        const r = await s.intake.commit([item({ uid: 1, action: 'delete' }), item({ uid: 2, action: 'seen' })], F);
        expect(r.map((x) => [x.ticketId, x.articleNo, x.created, x.duplicate])).toEqual([['ACME-000001', 1, true, false], ['ACME-000002', 1, true, false]]);
        expect(r.every((x) => typeof x.actionId === 'string')).toBe(true);
        s = await f.reopen(s);
        expect(await s.sync.checkpoint('support', 'INBOX')).toEqual({ uidValidity: 1, uid: 2 });
        const pending = await s.sync.pendingActions('support');
        expect(pending.map((a) => [a.uid, a.action]).sort()).toEqual([[1, 'delete'], [2, 'seen']]);
        expect((await s.tickets.get('ACME-000001'))?.articles).toHaveLength(1);
        return s;
      }));

      it('a known dedupe key makes a duplicate: no new article, its server action still recorded', withStore(async (s) => {
        await s.intake.commit([item({ uid: 1, messageId: '<same@x>' })], F);
        // the same message in a second mailbox: same company + Message-ID
        const [dup] = await s.intake.commit([item({ uid: 9, mailbox: 'other', messageId: '<same@x>', action: 'delete' })], soleOwner('other'));
        expect(dup).toMatchObject({ ticketId: 'ACME-000001', duplicate: true, created: false });
        expect(dup!.actionId).not.toBeNull();
        expect((await s.sync.pendingActions('other')).map((a) => a.id)).toEqual([dup!.actionId]);
        expect((await s.tickets.stats()).articles).toBe(1);
        const facts = await s.intake.facts({ keys: ['imap:support:1:1', 'imap:support:1:2', 'mid:acme:<same@x>'], threadIds: [], ticketIds: [] });
        expect([...facts.keys.keys()].sort()).toEqual(['imap:support:1:1', 'mid:acme:<same@x>']);
        expect(await s.sync.knownKeys(['imap:other:1:9', 'imap:other:1:10'])).toEqual(new Set(['imap:other:1:9']));
      }));

      it('facts: replies by Message-ID per company, tickets by id with their participants', withStore(async (s) => {
        await s.intake.commit([item({ uid: 1, messageId: '<q@x>' })], F);
        const f1 = await s.intake.facts({ keys: [], threadIds: [{ company: 'acme', ids: ['<q@x>', '<nope@x>'] }, { company: 'beta', ids: ['<q@x>'] }], ticketIds: ['ACME-000001', 'ACME-000099'] });
        expect([...f1.threadIds]).toEqual([['acme\0<q@x>', 'ACME-000001']]);
        expect([...f1.tickets.keys()]).toEqual(['ACME-000001']);
        expect(f1.tickets.get('ACME-000001')!.participants).toEqual(expect.arrayContaining(['jane@customer.example', 'support@acme.example']));
        expect(f1.tickets.get('ACME-000001')!.messageIds).toEqual(['<q@x>']);
        // the tickets a Message-ID found, and an old article whole (to compare its content)
        const f2 = await s.intake.facts({ keys: ['mid:acme:<q@x>', 'imap:support:1:1'], articlesOf: ['mid:acme:<q@x>'], threadIds: [{ company: 'acme', ids: ['<q@x>'] }], ticketIds: [], threadTickets: true });
        expect([...f2.tickets.keys()]).toEqual(['ACME-000001']);
        expect(f2.keys.get('mid:acme:<q@x>')?.article?.subject).toBe('Order problem 1');
        expect(f2.keys.get('imap:support:1:1')?.article).toBeUndefined();
      }));

      it('threads a reply onto its ticket as the next article', withStore(async (s) => {
        await s.intake.commit([item({ uid: 1 })], F);
        const [r] = await s.intake.commit([item({ uid: 2, threadTo: 'ACME-000001' })], F);
        expect(r).toMatchObject({ ticketId: 'ACME-000001', articleNo: 2, created: false });
      }));

      it('a commit that fails validation writes nothing of the batch', withStore(async (s) => {
        const bad = item({ uid: 2 });
        (bad.ticket as { status: string }).status = 'nonsense';
        await expect(s.intake.commit([item({ uid: 1 }), bad], F)).rejects.toThrow();
        expect((await s.tickets.stats()).tickets).toBe(0);
        expect(await s.sync.checkpoint('support', 'INBOX')).toBeNull();
      }));

      it('stores blobs by content and streams them back whole', withStore(async (s) => {
        const big = Buffer.alloc(300_000, 'x');
        const [a, b, a2] = await s.intake.putBlobs(['hello', big, 'hello']);
        expect(a).toBe(a2);
        expect(a).toMatch(/^[0-9a-f]{64}$/);
        const blob = await s.tickets.openBlob(b!);
        expect(blob?.length).toBe(300_000);
        const chunks: Buffer[] = [];
        for await (const c of blob!.stream) chunks.push(c as Buffer);
        expect(Buffer.concat(chunks).equals(big)).toBe(true);
        expect((await s.tickets.readBlob(a!))?.toString()).toBe('hello');
        expect(await s.tickets.openBlob('0'.repeat(64))).toBeNull();
        expect(await s.tickets.openBlob('../../etc/passwd')).toBeNull();
      }));

      it('keeps article text as it came: NUL, lone surrogates, a backslash before u0000, emoji and quotes, beside plain articles in one commit', withStore(async (s) => {
        const texts = ['plain "quoted" text', 'nul \u0000 here', 'lone \ud800 high and \udc00 low', 'a backslash \\u0000 that is text', 'pair 😀 and é'];
        const items = texts.map((t, i) => {
          const x = item({ uid: i + 1 });
          x.article = { ...x.article, text: t, subject: t };
          return x;
        });
        const r = await s.intake.commit(items, F);
        s = await f.reopen(s);
        for (const [i, t] of texts.entries()) {
          const a = (await s.tickets.get(r[i]!.ticketId))?.articles[0];
          expect([a?.text, a?.subject]).toEqual([t, t]);
        }
        return s;
      }));

      it('keeps every byte of blobs of any size: empty, binary, exactly one chunk, one byte over, many in one call', withStore(async (s) => {
        const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256)); // every byte value, NULs too
        const exact = Buffer.alloc(256 * 1024, 0xff);
        const over = Buffer.concat([exact, Buffer.from([0])]);
        const inputs = [Buffer.alloc(0), binary, exact, over, new Uint8Array(binary.subarray(5, 9))];
        const hashes = await s.intake.putBlobs(inputs);
        expect(await s.intake.putBlobs([over, binary])).toEqual([hashes[3], hashes[1]]); // known ones again: same hashes
        for (const [i, want] of inputs.entries()) {
          const got = await s.tickets.openBlob(hashes[i]!);
          expect(got?.length).toBe(want.byteLength);
          const chunks: Buffer[] = [];
          for await (const c of got!.stream) chunks.push(c as Buffer);
          expect(Buffer.concat(chunks).equals(Buffer.from(want))).toBe(true);
          expect((await s.tickets.readBlob(hashes[i]!))?.equals(Buffer.from(want))).toBe(true);
        }
      }));
    });

    describe('sync', () => {
      it('completed actions are gone after a restart; a UIDVALIDITY reset drops the folder\'s old actions', withStore(async (s) => {
        const [a, b] = await s.intake.commit([item({ uid: 1 }), item({ uid: 2 })], F);
        await s.sync.completeActions([a!.actionId!], F);
        s = await f.reopen(s);
        expect((await s.sync.pendingActions('support')).map((x) => x.id)).toEqual([b!.actionId]);
        await s.sync.resetCheckpoint('support', 'INBOX', 7, F);
        expect(await s.sync.checkpoint('support', 'INBOX')).toEqual({ uidValidity: 7, uid: 0 });
        expect(await s.sync.pendingActions('support')).toEqual([]);
        return s;
      }));

      it('an API sync cursor is replaced by the commit that carries it, survives a restart, and resets; API actions keep their remote id', withStore(async (s) => {
        const G = soleOwner('m365');
        const api = (id: string, cursor: string, action: 'seen' | 'move' = 'seen'): IntakeItem => {
          const base = item({ uid: 1, mailbox: 'm365', messageId: `<${id}@x>`, checkpoint: false });
          return {
            ...base,
            article: { ...base.article, dedupeKeys: [`graph:m365:${id}`] },
            afterFetch: { mailbox: 'm365', kind: 'graph', folder: 'inbox', remoteId: id, action, ...(action === 'move' && { moveTo: 'Done' }) },
            cursor: { mailbox: 'm365', folder: 'inbox', value: cursor },
          };
        };
        expect(await s.sync.cursor('m365', 'inbox')).toBeNull();
        // Opaque: a later link that sorts lower still replaces the earlier one; the batch's last wins.
        await s.intake.commit([api('AAMk-1', 'https://graph/delta?$deltatoken=zz'), api('AAMk-2', 'https://graph/delta?$deltatoken=aa', 'move')], G);
        s = await f.reopen(s);
        expect(await s.sync.cursor('m365', 'inbox')).toBe('https://graph/delta?$deltatoken=aa');
        expect(await s.sync.cursor('m365', 'other')).toBeNull();
        const pending = await s.sync.pendingActions('m365');
        expect(pending.map((a) => [a.kind, a.remoteId, a.action, a.moveTo ?? null]).sort()).toEqual([['graph', 'AAMk-1', 'seen', null], ['graph', 'AAMk-2', 'move', 'Done']]);
        // A page that brought nothing to commit moves the cursor alone.
        await s.sync.saveCursor('m365', 'inbox', 'https://graph/delta?$deltatoken=bb', G);
        s = await f.reopen(s);
        expect(await s.sync.cursor('m365', 'inbox')).toBe('https://graph/delta?$deltatoken=bb');
        // Expired (Graph 410): the folder starts over; the pending actions (immutable ids) stay.
        await s.sync.resetCursor('m365', 'inbox', G);
        s = await f.reopen(s);
        expect(await s.sync.cursor('m365', 'inbox')).toBeNull();
        expect(await s.sync.pendingActions('m365')).toHaveLength(2);
        // A duplicate commit (replay after a crash) still carries its cursor.
        const [dup] = await s.intake.commit([api('AAMk-1', 'https://graph/delta?$deltatoken=cc')], G);
        expect(dup!.duplicate).toBe(true);
        expect(await s.sync.cursor('m365', 'inbox')).toBe('https://graph/delta?$deltatoken=cc');
        expect(await s.sync.pendingActions('m365')).toHaveLength(2);
        await expect(s.intake.commit([{ ...api('AAMk-3', 'x'), afterFetch: { mailbox: 'm365', kind: 'graph', action: 'seen' } }], G)).rejects.toThrow(/remoteId/);
        return s;
      }));

      it('keeps POP3 UIDLs and prunes those the server no longer lists', withStore(async (s) => {
        const P = soleOwner('pop');
        await s.intake.commit([item({ uidl: 'A', mailbox: 'pop' }), item({ uidl: 'B', mailbox: 'pop' })], P);
        s = await f.reopen(s);
        expect(await s.sync.uidls('pop')).toEqual(new Set(['A', 'B']));
        expect(await s.sync.pruneUidls('pop', new Set(['B']), P)).toBe(1);
        expect(await s.sync.uidls('pop')).toEqual(new Set(['B']));
        return s;
      }));
    });

    describe('fences', () => {
      it('a write with a stale fence is refused where the store enforces fences, and changes nothing', withStore(async (s) => {
        const newer = await f.takeOver(s, 'support');
        if (newer === null) {
          // one owner: any fence is the owner's
          await expect(s.intake.commit([item({ uid: 1 })], { mailbox: 'support', epoch: 41 })).resolves.toHaveLength(1);
          return;
        }
        const stale: Fence = { mailbox: 'support', epoch: newer.epoch - 1 };
        await expect(s.intake.commit([item({ uid: 1 })], stale)).rejects.toMatchObject({ code: 'fenced' });
        await expect(s.sync.resetCheckpoint('support', 'INBOX', 3, stale)).rejects.toMatchObject({ code: 'fenced' });
        expect((await s.tickets.stats()).tickets).toBe(0);
        await expect(s.intake.commit([item({ uid: 1 })], newer)).resolves.toHaveLength(1);
      }));
    });

    describe('tickets', () => {
      it('lists in creation order with a cursor, scoped to companies', withStore(async (s) => {
        await s.intake.commit([item({ uid: 1 }), item({ uid: 2 }), item({ uid: 3, company: 'beta', prefix: 'BETA' })], F);
        const p1 = await s.tickets.list({ companies: ['acme'], limit: 1 });
        expect(p1.items.map((t) => t.id)).toEqual(['ACME-000001']);
        const p2 = await s.tickets.list({ companies: ['acme'], limit: 5, cursor: p1.next });
        expect(p2.items.map((t) => t.id)).toEqual(['ACME-000002']);
        expect(p2.next).toBeNull();
        expect((await s.tickets.list({ companies: '*', limit: 10 })).items).toHaveLength(3);
      }));

      it('approving a held ticket releases its held deliveries; rejecting cancels them', withStore(async (s) => {
        const [a, b] = await s.intake.commit([item({ uid: 1, status: 'held', webhooks: ['erp'] }), item({ uid: 2, status: 'held', webhooks: ['erp'] })], F);
        expect(a!.deliveries.map((d) => d.status)).toEqual(['held']);
        const ok = await s.tickets.setStatus(a!.ticketId, 'open');
        expect(ok.found).toBe(true);
        expect(ok.deliveries.map((d) => d.status)).toEqual(['pending']);
        const no = await s.tickets.setStatus(b!.ticketId, 'rejected');
        expect(no.deliveries.map((d) => d.status)).toEqual(['cancelled']);
        expect((await s.tickets.setStatus('ACME-999999', 'open')).found).toBe(false);
        expect(await s.tickets.summary(b!.ticketId)).toMatchObject({ id: b!.ticketId, status: 'rejected', company: 'acme' });
        expect(await s.tickets.summary('ACME-999999')).toBeNull();
        const claimed = await s.deliveries.claimDue({ owner: 'w', ttlMs: 60_000, now: Date.now() + 1, capacity: { erp: 5 } });
        expect(claimed.map((d) => d.ticketId)).toEqual([a!.ticketId]);
      }));

      it('a reply with reopen sets a rejected ticket back to held in the same commit; its deliveries are held and announce the ticket', withStore(async (s) => {
        const [a] = await s.intake.commit([item({ uid: 1, status: 'held', webhooks: ['erp'] })], F);
        await s.tickets.setStatus(a!.ticketId, 'rejected');
        // what decide() reads to know: a reply by Message-ID finds the ticket and its status
        const facts = await s.intake.facts({ keys: [], threadIds: [{ company: 'acme', ids: ['<m1.support@example.com>'] }], ticketIds: [] });
        expect([facts.threadIds.get('acme\0<m1.support@example.com>'), facts.threadStatuses.get(a!.ticketId)]).toEqual([a!.ticketId, 'rejected']);
        const reopen = { from: 'rejected', to: 'held' } as const;
        // two replies in one batch: the first reopens, the second joins the held ticket
        const [r1, r2] = await s.intake.commit([
          { ...item({ uid: 2, threadTo: a!.ticketId, webhooks: ['erp'] }), reopen },
          { ...item({ uid: 3, threadTo: a!.ticketId, webhooks: ['erp'] }), reopen },
        ], F);
        expect([r1!.ticketId, r1!.articleNo, r1!.created, r1!.reopened]).toEqual([a!.ticketId, 2, false, true]);
        expect(r2!.reopened).toBeUndefined();
        expect(r1!.deliveries.map((d) => [d.status, d.event])).toEqual([['held', 'ticket.created']]);
        expect(r2!.deliveries.map((d) => [d.status, d.event])).toEqual([['held', 'article.created']]);
        s = await f.reopen(s);
        expect(await s.tickets.summary(a!.ticketId)).toMatchObject({ status: 'held', articleCount: 3 });
        expect((await s.tickets.list({ companies: '*', status: 'held', limit: 10 })).items.map((t) => t.id)).toEqual([a!.ticketId]);
        // a duplicate of the reply changes nothing; an open ticket is not reopened
        const [dup] = await s.intake.commit([{ ...item({ uid: 2, threadTo: a!.ticketId, webhooks: ['erp'] }), reopen }], F);
        expect([dup!.duplicate, dup!.reopened, dup!.deliveries]).toEqual([true, undefined, []]);
        const released = await s.tickets.setStatus(a!.ticketId, 'open');
        expect(released.deliveries.map((d) => [d.articleNo, d.event, d.status])).toEqual([[2, 'ticket.created', 'pending'], [3, 'article.created', 'pending']]);
        const [r4] = await s.intake.commit([{ ...item({ uid: 4, threadTo: a!.ticketId, webhooks: ['erp'] }), reopen }], F);
        expect([r4!.reopened, r4!.deliveries.map((d) => [d.status, d.event])]).toEqual([undefined, [['pending', 'article.created']]]);
        expect(await s.tickets.summary(a!.ticketId)).toMatchObject({ status: 'open', articleCount: 4 });
        // the article 1 delivery stays cancelled: the platform gets the ticket once, with the reply
        const claimed = await s.deliveries.claimDue({ owner: 'w', ttlMs: 60_000, now: Date.now() + 1, capacity: { erp: 5 } });
        expect(claimed.map((d) => [d.articleNo, d.event])).toEqual([[2, 'ticket.created']]);
        return s; // the reopened store, for withStore to close (its journals' file handles leaked)
      }));

      it('a reopen without threadTo is refused before anything is written', withStore(async (s) => {
        await expect(s.intake.commit([{ ...item({ uid: 1 }), reopen: { from: 'rejected', to: 'held' } }], F)).rejects.toMatchObject({ code: 'bad-input' });
        expect((await s.tickets.stats()).tickets).toBe(0);
      }));
    });

    describe('deliveries', () => {
      it('are created by the commit, once, and claimed by one owner at a time; an expired claim is taken over', withStore(async (s) => {
        const [r] = await s.intake.commit([item({ uid: 1, webhooks: ['erp', 'crm'] })], F);
        expect(r!.deliveries.map((d) => d.webhook).sort()).toEqual(['crm', 'erp']);
        const [dup] = await s.intake.commit([item({ uid: 1, webhooks: ['erp', 'crm'] })], F);
        expect(dup!.deliveries).toEqual([]);
        const now = Date.now() + 1;
        const takenOver: string[][] = [];
        const onTakenOver = (ids: string[]) => void takenOver.push(ids);
        const a = await s.deliveries.claimDue({ owner: 'a', ttlMs: 1_000, now, capacity: { erp: 5, crm: 5 }, onTakenOver });
        expect(a).toHaveLength(2);
        expect(await s.deliveries.claimDue({ owner: 'b', ttlMs: 1_000, now, capacity: { erp: 5, crm: 5 }, onTakenOver })).toEqual([]);
        expect(takenOver).toEqual([]);
        const later = await s.deliveries.claimDue({ owner: 'b', ttlMs: 1_000, now: now + 1_001, capacity: { erp: 5, crm: 5 }, onTakenOver });
        expect(later.map((d) => d.id).sort()).toEqual(a.map((d) => d.id).sort());
        // both were claimed over a's expired claims: takeovers
        expect(takenOver.flat().sort()).toEqual(a.map((d) => d.id).sort());
        // a released claim is no takeover
        await s.deliveries.release(later.map((d) => d.id), 'b');
        takenOver.length = 0;
        expect(await s.deliveries.claimDue({ owner: 'b', ttlMs: 1_000, now: now + 1_002, capacity: { erp: 5, crm: 5 }, onTakenOver })).toHaveLength(2);
        expect(takenOver).toEqual([]);
        // the first owner lost its claim: its outcome is refused, the new owner's is kept
        const erp = a.find((d) => d.webhook === 'erp')!;
        await expect(s.deliveries.complete(erp.id, 'a', { status: 200, at: Date.now() })).rejects.toMatchObject({ code: 'claimed' });
        await s.deliveries.complete(erp.id, 'b', { status: 200, at: Date.now() });
        expect((await s.deliveries.get(erp.id))?.status ?? 'delivered').toBe('delivered');
      }));

      it('keep per-ticket order: one at a time, the later ones wait behind a dead letter until replayed', withStore(async (s) => {
        await s.intake.commit([item({ uid: 1, messageId: '<t1@x>', webhooks: ['erp'] })], F);
        await s.intake.commit([item({ uid: 2, messageId: '<t2@x>', threadTo: 'ACME-000001', webhooks: ['erp'] })], F);
        const cap = { erp: 10 };
        const c1 = await s.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now: Date.now() + 1, capacity: cap });
        expect(c1.map((d) => d.articleNo)).toEqual([1]);
        expect(await s.deliveries.claimDue({ owner: 'b', ttlMs: 60_000, now: Date.now() + 1, capacity: cap })).toEqual([]);
        await s.deliveries.deadLetter(c1[0]!.id, 'a', { status: 400, error: 'bad request', at: Date.now() });
        expect(await s.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now: Date.now() + 1, capacity: cap })).toEqual([]);
        expect((await s.deliveries.summary()).get('erp')).toMatchObject({ pending: 1, blocked: 1, dead: 1 });
        expect((await s.deliveries.dead('erp')).map((d) => d.articleNo)).toEqual([1]);
        expect(await s.deliveries.replay('erp')).toBe(1);
        const c2 = await s.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now: Date.now() + 1, capacity: cap });
        expect(c2.map((d) => d.articleNo)).toEqual([1]);
        await s.deliveries.complete(c2[0]!.id, 'a', { status: 200, at: Date.now() });
        const c3 = await s.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now: Date.now() + 1, capacity: cap });
        expect(c3.map((d) => d.articleNo)).toEqual([2]);
      }));

      it('a retry waits for its time; capacity bounds a claim per webhook; a gated action waits for its delivery', withStore(async (s) => {
        const rs = await s.intake.commit([item({ uid: 1, webhooks: ['erp'], gated: true, action: 'delete' }), item({ uid: 2, webhooks: ['erp'] })], F);
        expect(await s.deliveries.gating([rs[0]!.actionId!, rs[1]!.actionId!])).toEqual(new Set([rs[0]!.actionId]));
        const now = Date.now() + 1;
        const one = await s.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now, capacity: { erp: 1 } });
        expect(one).toHaveLength(1);
        await s.deliveries.retryAt(one[0]!.id, 'a', { status: 503, error: 'busy', nextAt: now + 30_000 });
        const rest = await s.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now, capacity: { erp: 5 } });
        expect(rest.map((d) => d.id)).not.toContain(one[0]!.id);
        expect(await s.deliveries.nextDueAt()).not.toBeNull();
        const again = await s.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now: now + 30_001, capacity: { erp: 5 } });
        expect(again.map((d) => d.id)).toContain(one[0]!.id);
        expect(again.find((d) => d.id === one[0]!.id)?.attempts).toBe(1);
      }));

      it('survive a restart with their state', withStore(async (s) => {
        const [r] = await s.intake.commit([item({ uid: 1, webhooks: ['erp'] })], F);
        const [c] = await s.deliveries.claimDue({ owner: 'a', ttlMs: 60_000, now: Date.now() + 1, capacity: { erp: 1 } });
        await s.deliveries.deadLetter(c!.id, 'a', { status: 410, error: 'gone', at: Date.now() });
        s = await f.reopen(s);
        expect((await s.deliveries.get(r!.deliveries[0]!.id))).toMatchObject({ status: 'dead', lastStatus: 410, attempts: 1 });
        return s;
      }));
    });

    describe('outbox', () => {
      it('an idempotency key returns the first entry; entries survive a restart', withStore(async (s) => {
        const first = await s.outbox.add(outboxEntry('msg_1', { idempotencyKey: 'k1' }));
        const again = await s.outbox.add(outboxEntry('msg_2', { idempotencyKey: 'k1' }));
        expect(first.existing).toBe(false);
        expect(again).toMatchObject({ existing: true, entry: { id: 'msg_1' } });
        expect((await s.outbox.add(outboxEntry('msg_3', { idempotencyKey: 'k1', company: 'beta' }))).existing).toBe(false);
        s = await f.reopen(s);
        expect((await s.outbox.findByIdempotencyKey('acme', 'k1'))?.id).toBe('msg_1');
        expect(await s.outbox.get('msg_2')).toBeNull();
        return s;
      }));

      it('claims: two owners never hold the same entry; settled outcomes persist; an expired claim is taken over', withStore(async (s) => {
        for (const id of ['msg_a', 'msg_b', 'msg_c']) await s.outbox.add(outboxEntry(id));
        const now = Date.now();
        const takenOver: string[] = [];
        const onTakenOver = (ids: string[]) => void takenOver.push(...ids);
        const a = await s.outbox.claimDue({ owner: 'a', limit: 2, ttlMs: 1_000, now, onTakenOver });
        const b = await s.outbox.claimDue({ owner: 'b', limit: 5, ttlMs: 1_000, now, onTakenOver });
        expect(a).toHaveLength(2);
        expect(b.map((e) => e.id)).toEqual(['msg_c']);
        expect(new Set([...a, ...b].map((e) => e.id)).size).toBe(3);
        await s.outbox.settle(a[0]!.id, 'a', { status: 'sent', attempts: 1, sentAt: new Date().toISOString() });
        await s.outbox.settle(a[1]!.id, 'a', { status: 'retrying', attempts: 1, nextAttemptAt: new Date(now + 60_000).toISOString() });
        expect(takenOver).toEqual([]);
        // msg_c's claim expired unsettled: claiming it again is a takeover (settled entries are not)
        expect(await s.outbox.claimDue({ owner: 'b', limit: 5, ttlMs: 1_000, now: now + 1_001, onTakenOver })).toEqual([expect.objectContaining({ id: 'msg_c' })]);
        expect(takenOver).toEqual(['msg_c']);
        await expect(s.outbox.settle('msg_c', 'a', { status: 'sent' })).rejects.toMatchObject({ code: 'claimed' });
        s = await f.reopen(s);
        expect(await s.outbox.get(a[0]!.id)).toMatchObject({ status: 'sent', raw: null });
        expect(await s.outbox.get(a[1]!.id)).toMatchObject({ status: 'retrying', attempts: 1 });
        return s;
      }));
    });

    describe('outbox: many at once (a store may write them together)', () => {
      it('adds made at once: each durable, a repeated idempotency key answered with the first, a repeated id refused, order kept', withStore(async (s) => {
        const raw = (i: number) => `Subject: ${i}\r\n\r\n${'\u00ff\u0000'.repeat(i)}\r\n`; // latin1 bytes, NUL too
        const adds = Array.from({ length: 40 }, (_, i) =>
          s.outbox.add(outboxEntry(`msg_${String(i).padStart(2, '0')}`, { raw: raw(i), ...(i % 10 === 3 && { idempotencyKey: 'same' }) })),
        );
        const dup = s.outbox.add(outboxEntry('msg_05')).then(() => 'added', (e: { code?: string }) => e.code);
        const got = await Promise.all(adds);
        expect(got.filter((g) => g.existing).map((g) => g.entry.id)).toEqual(['msg_03', 'msg_03', 'msg_03']);
        expect(got.filter((g) => !g.existing)).toHaveLength(37);
        expect(await dup).toBe('bad-input');
        s = await f.reopen(s);
        expect(await s.outbox.get('msg_13')).toBeNull();
        expect((await s.outbox.get('msg_39'))?.raw).toBe(raw(39));
        const claimed = await s.outbox.claimDue({ owner: 'w', limit: 100, ttlMs: 60_000, now: Date.now() });
        expect(claimed.map((e) => e.id)).toEqual(got.filter((g) => !g.existing).map((g) => g.entry.id));
        return s;
      }));

      it('settles made at once apply in call order per entry; an unknown or foreign-claimed one fails alone', withStore(async (s) => {
        for (const id of ['msg_a', 'msg_b', 'msg_c', 'msg_d']) await s.outbox.add(outboxEntry(id));
        const now = Date.now();
        await s.outbox.claimDue({ owner: 'w', limit: 3, ttlMs: 60_000, now }); // a, b, c
        await s.outbox.claimDue({ owner: 'other', limit: 3, ttlMs: 60_000, now }); // d
        const outcome = (p: Promise<void>) => p.then(() => 'ok', (e: { code?: string }) => e.code);
        const calls = [
          outcome(s.outbox.settle('msg_a', 'w', { status: 'sending', attempts: 1 })),
          outcome(s.outbox.settle('msg_b', 'w', { status: 'sending', attempts: 1 })),
          outcome(s.outbox.settle('msg_a', 'w', { status: 'retrying', attempts: 1, lastError: { message: 'x \u0000' } as OutboxEntry['lastError'] })),
          outcome(s.outbox.settle('msg_zz', 'w', { status: 'sent' })),
          outcome(s.outbox.settle('msg_d', 'w', { status: 'sent' })),
          outcome(s.outbox.settle('msg_a', 'w', { status: 'sent', attempts: 2, sentAt: new Date().toISOString() })),
          outcome(s.outbox.settle('msg_c', 'w', { status: 'failed', attempts: 1, failedAt: new Date().toISOString() })),
          outcome(s.outbox.settle('msg_b', 'w', { status: 'sent', attempts: 1, sentAt: new Date().toISOString() })),
        ];
        expect(await Promise.all(calls)).toEqual(['ok', 'ok', 'ok', 'bad-input', 'claimed', 'ok', 'ok', 'ok']);
        s = await f.reopen(s);
        expect(await s.outbox.get('msg_a')).toMatchObject({ status: 'sent', attempts: 2, raw: null, lastError: { message: 'x \u0000' } });
        expect(await s.outbox.get('msg_b')).toMatchObject({ status: 'sent', raw: null });
        expect(await s.outbox.get('msg_c')).toMatchObject({ status: 'failed', raw: null });
        expect(await s.outbox.get('msg_d')).toMatchObject({ status: 'queued' });
        return s;
      }));

      it('several settles of each of several entries made at once: each entry ends as its last settle says', withStore(async (s) => {
        const ids = ['msg_p', 'msg_q', 'msg_r', 'msg_s'];
        for (const id of ids) await s.outbox.add(outboxEntry(id));
        await s.outbox.claimDue({ owner: 'w', limit: 10, ttlMs: 60_000, now: Date.now() });
        const at = new Date().toISOString();
        const calls: Promise<void>[] = [s.outbox.settle('msg_p', 'w', { status: 'sending', attempts: 1 })]; // goes alone; the rest wait together
        for (const id of ids) calls.push(s.outbox.settle(id, 'w', { status: 'retrying', attempts: 1, lastError: { message: `first ${id}` } as OutboxEntry['lastError'] }));
        for (const id of ids) calls.push(s.outbox.settle(id, 'w', { attempts: 2, lastError: { message: `second ${id}` } as OutboxEntry['lastError'] }));
        for (const id of ids.slice(0, 2)) calls.push(s.outbox.settle(id, 'w', { status: 'sent', attempts: 3, sentAt: at }));
        await Promise.all(calls);
        s = await f.reopen(s);
        expect(await s.outbox.get('msg_p')).toMatchObject({ status: 'sent', attempts: 3, raw: null, lastError: { message: 'second msg_p' } });
        expect(await s.outbox.get('msg_q')).toMatchObject({ status: 'sent', attempts: 3, raw: null, lastError: { message: 'second msg_q' } });
        expect(await s.outbox.get('msg_r')).toMatchObject({ status: 'retrying', attempts: 2, lastError: { message: 'second msg_r' } });
        expect((await s.outbox.get('msg_s'))?.raw).not.toBeNull();
        return s;
      }));
    });

    describe('outbox: settle', () => {
      it('merges the patch into the stored entry: keys it does not name stay, undefined ones go, any text survives', withStore(async (s) => {
        await s.outbox.add(outboxEntry('msg_m', { status: 'sending', subject: 'Keep me', accepted: ['x@y.example'], possibleDuplicate: true }));
        const c = (await s.outbox.get('msg_m'))!;
        await s.outbox.markPastEndOfData('msg_m', 1);
        const next = new Date(Date.now() + 60_000).toISOString();
        const lastError = { message: 'server said "no" \\ \u00e9\u{1F4E7}', code: 'EPROTOCOL', responseCode: 451, class: 'transient' } as unknown as OutboxEntry['lastError'];
        await s.outbox.settle('msg_m', 'w', { status: 'retrying', attempts: 1, nextAttemptAt: next, lastError, possibleDuplicate: undefined });
        const e = (await s.outbox.get('msg_m'))!;
        expect(e).toMatchObject({ status: 'retrying', attempts: 1, nextAttemptAt: next, lastError, subject: 'Keep me', accepted: ['x@y.example'], committed: 1, raw: 'Subject: Hello\r\n\r\nHi\r\n' });
        expect(e.possibleDuplicate).toBeUndefined();
        expect(Date.parse(e.updatedAt)).toBeGreaterThanOrEqual(Date.parse(c.updatedAt));
        // the retry is not due yet
        expect(await s.outbox.claimDue({ owner: 'w', limit: 5, ttlMs: 60_000, now: Date.now() })).toEqual([]);
        // a NUL in a server's text (PostgreSQL's jsonb cannot hold it), in the patch and then stored
        const nul = { ...lastError!, message: 'server said \u0000 no' } as OutboxEntry['lastError'];
        await s.outbox.settle('msg_m', 'w', { attempts: 2, lastError: nul });
        expect(await s.outbox.get('msg_m')).toMatchObject({ status: 'retrying', attempts: 2, lastError: nul, subject: 'Keep me' });
        // the outcome: sent drops the raw message
        await s.outbox.settle('msg_m', 'w', { status: 'sent', attempts: 3, sentAt: new Date().toISOString(), response: '250 ok \u0000', nextAttemptAt: null });
        s = await f.reopen(s);
        expect(await s.outbox.get('msg_m')).toMatchObject({ status: 'sent', attempts: 3, raw: null, response: '250 ok \u0000', lastError: nul, subject: 'Keep me', nextAttemptAt: null });
        expect((await s.outbox.unfinished({ live: true })).map((x) => x.id)).toEqual([]);
        await expect(s.outbox.settle('msg_nothing', 'w', { status: 'sent' })).rejects.toThrow(/unknown outbox entry/);
        return s;
      }));
    });

    describe('outbox: unfinished', () => {
      it('lists unfinished and failed entries; live: the unfinished only; skip: leaves held ids out', withStore(async (s) => {
        for (const id of ['msg_q', 'msg_r', 'msg_f', 'msg_s']) await s.outbox.add(outboxEntry(id));
        await s.outbox.settle('msg_r', 'w', { status: 'retrying', attempts: 1, nextAttemptAt: new Date(Date.now() + 60_000).toISOString() });
        await s.outbox.settle('msg_f', 'w', { status: 'failed', attempts: 1, failedAt: new Date().toISOString() });
        await s.outbox.settle('msg_s', 'w', { status: 'sent', attempts: 1, sentAt: new Date().toISOString() });
        const ids = async (q?: Parameters<typeof s.outbox.unfinished>[0]) => (await s.outbox.unfinished(q)).map((e) => e.id);
        expect(await ids()).toEqual(expect.arrayContaining(['msg_q', 'msg_r', 'msg_f'])); // (the embedded store lists the sent ones it keeps too)
        expect(await ids({ live: true })).toEqual(['msg_q', 'msg_r']);
        expect(await ids({ live: true, skip: new Set(['msg_q']) })).toEqual(['msg_r']);
        expect(await ids({ live: true, skip: new Set(['msg_q', 'msg_r']) })).toEqual([]);
        const [q] = await s.outbox.unfinished({ live: true, skip: new Set(['msg_r']) });
        expect(q).toMatchObject({ id: 'msg_q', status: 'queued', raw: 'Subject: Hello\r\n\r\nHi\r\n' });
      }));
    });

    describe('control', () => {
      it('an OAuth refresh of a mailbox runs alone: another for it waits, other mailboxes do not; a failed one lets the next run', withStore(async (s) => {
        const running = new Map<string, number>();
        const most = new Map<string, number>();
        const order: string[] = [];
        const refresh = (mailbox: string, tag: string, fail = false) => s.control.oauthRefreshExclusive(mailbox, async () => {
          running.set(mailbox, (running.get(mailbox) ?? 0) + 1);
          most.set(mailbox, Math.max(most.get(mailbox) ?? 0, running.get(mailbox)!));
          order.push(`${tag}+`);
          await new Promise((r) => setTimeout(r, 60));
          order.push(`${tag}-`);
          running.set(mailbox, running.get(mailbox)! - 1);
          if (fail) throw new Error(`refresh ${tag} failed`);
          return tag;
        });
        const results = await Promise.allSettled([refresh('desk', 'a', true), refresh('desk', 'b'), refresh('desk', 'c'), refresh('other', 'x')]);
        expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['refresh a failed', 'b', 'c', 'x']);
        expect(most.get('desk')).toBe(1); // never two refreshes of desk at once
        // other's refresh ran while one of desk's did: they are not serialized together
        const xStart = order.indexOf('x+');
        const deskRunningAtX = order.slice(0, xStart).filter((t) => t.endsWith('+')).length - order.slice(0, xStart).filter((t) => t.endsWith('-')).length;
        expect(deskRunningAtX).toBe(1);
      }));

      it('suspensions persist and signal their changes', withStore(async (s) => {
        const seen: [string, boolean][] = [];
        const off = s.control.watchSuspensions((m, r) => seen.push([m, r !== null]));
        await s.control.setSuspension(suspension('desk'));
        await s.control.clearSuspension('nothing-here');
        s = await f.reopen(s);
        expect(await s.control.suspension('desk')).toMatchObject({ mailbox: 'desk', code: 'AUTHENTICATIONFAILED' });
        await s.control.clearSuspension('desk');
        expect(await s.control.suspensions()).toEqual([]);
        expect(seen).toEqual([['desk', true]]);
        off();
        return s;
      }));

      it('OAuth state: compare-and-set refuses a writer that read an older version', withStore(async (s) => {
        const a = await s.control.oauthState('desk');
        const b = await s.control.oauthState('desk');
        const grant = { refreshToken: 'rt-2', issuedAt: 'x', expiresAt: null, rotations: 1, updatedAt: 'x' };
        expect(await s.control.casOAuthState('desk', a.version, { ...a.state, grants: { g: grant } })).toBe(true);
        expect(await s.control.casOAuthState('desk', b.version, { ...b.state, grants: {} })).toBe(false);
        s = await f.reopen(s);
        const c = await s.control.oauthState('desk');
        expect(c.state.grants.g?.refreshToken).toBe('rt-2');
        expect(await s.control.casOAuthState('desk', c.version, { ...c.state, notices: { n: 'y' } })).toBe(true);
        return s;
      }));

      it('the install\'s fingerprint key is made once and kept', withStore(async (s) => {
        const k = await s.control.fingerprintKey();
        expect(k).toHaveLength(32);
        s = await f.reopen(s);
        expect((await s.control.fingerprintKey()).equals(k)).toBe(true);
        expect(await s.control.legacyFingerprintSalt()).toBeNull();
        return s;
      }));

      it('rate counters count within their window and survive a restart', withStore(async (s) => {
        const t = 1_000_000;
        expect(await s.control.hit('acme:jane@x', 2, 3_600_000, t)).toBe(false);
        expect(await s.control.hit('acme:jane@x', 2, 3_600_000, t + 1)).toBe(false);
        s = await f.reopen(s);
        expect(await s.control.hit('acme:jane@x', 2, 3_600_000, t + 2)).toBe(true);
        expect(await s.control.hit('acme:other@x', 2, 3_600_000, t + 2)).toBe(false);
        expect(await s.control.hit('acme:jane@x', 2, 3_600_000, t + 3_600_003)).toBe(false);
        return s;
      }));

      it('a batch of hits answers as the same hits one by one, and leaves the same counts', withStore(async (s) => {
        const t = 5_000_000;
        const H = 3_600_000;
        // stored hits before the batch, under two prefixes: one hit one by one, one in a batch
        const before = [
          { key: 'a', at: t - H + 10 }, { key: 'a', at: t - 100 }, { key: 'a', at: t - 50 },
          { key: 'b', at: t - 20 }, { key: 'c', at: t - H - 5 },
        ];
        // same key repeated (each sees the earlier ones), keys interleaved, a window start that forgets
        // a stored hit and then a wider window that must not see it again, equal times, limits of 0
        const batch = [
          { key: 'a', limit: 4, windowMs: H, now: t },
          { key: 'b', limit: 1, windowMs: H, now: t },
          { key: 'a', limit: 3, windowMs: H, now: t + 1 },
          { key: 'a', limit: 5, windowMs: 60, now: t + 2 },
          { key: 'a', limit: 5, windowMs: H, now: t + 3 },
          { key: 'c', limit: 0, windowMs: H, now: t },
          { key: 'b', limit: 1, windowMs: H, now: t },
          { key: 'd', limit: 2, windowMs: 10, now: t },
          { key: 'd', limit: 2, windowMs: 10, now: t + 10 },
          { key: 'd', limit: 2, windowMs: 10, now: t + 11 },
          { key: 'a', limit: 4, windowMs: H, now: t + 4 },
        ];
        for (const p of ['seq:', 'bat:']) for (const h of before) await s.control.hit(p + h.key, 100, H, h.at);
        const one: boolean[] = [];
        for (const r of batch) one.push(await s.control.hit('seq:' + r.key, r.limit, r.windowMs, r.now));
        const all = await s.control.hits(batch.map((r) => ({ ...r, key: 'bat:' + r.key })));
        expect(all).toEqual(one);
        // (the 5th: 5 within the hour were it not for the 4th's narrow window, which forgot two stored hits)
        expect(one).toEqual([false, true, true, false, false, true, true, false, false, false, true]);
        expect(await s.control.hits([])).toEqual([]);
        // what each left behind counts the same afterwards (after a restart too)
        s = await f.reopen(s);
        for (const key of ['a', 'b', 'c', 'd']) {
          for (const [limit, dt] of [[2, 5], [3, 6], [4, 7], [5, 8], [6, 9]] as const) {
            const seq = await s.control.hit('seq:' + key, limit, H, t + dt);
            const [bat] = await s.control.hits([{ key: 'bat:' + key, limit, windowMs: H, now: t + dt }]);
            expect(bat, `${key} limit ${limit}`).toBe(seq);
          }
        }
        return s;
      }));
    });
  });
}
