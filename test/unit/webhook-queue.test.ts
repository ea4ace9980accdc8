// The webhook queue's memory and per-tick cost follow what is still to do: delivered rows leave
// memory (only their ids stay, for dedupe), pending() scans pending rows only. Held tickets'
// deliveries wait, and follow the ticket's status on approval, rejection, or a restart.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { WebhookQueue, type StoreView } from '../../src/store/embedded/webhook-queue.js';

function storeView(statuses = new Map<string, string>()): StoreView & { statuses: Map<string, string> } {
  return { statuses, findKey: () => null, findByTicketId: (id) => ({ status: statuses.get(id) ?? 'open' }), pendingActions: () => [] };
}

it('100k delivered: rows leave memory, dedupe still holds, pending() costs what is pending', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'whq-'));
  const q = await WebhookQueue.open(dir, storeView());
  const N = 100_000;
  const all = await Promise.all(Array.from({ length: N }, (_, i) => q.enqueue({ key: `k${i}`, mailbox: 'desk', webhooks: ['erp'], ticketId: `T${i}`, articleNo: 1, gate: null })));
  await Promise.all(all.map(([d]) => q.update(d!, { status: 'delivered', attempts: 1, finishedAt: new Date().toISOString() })));
  const [left] = await q.enqueue({ key: 'last', mailbox: 'desk', webhooks: ['erp'], ticketId: 'TL', articleNo: 1, gate: null });
  expect(q.get(all[0]![0]!.id)).toBeUndefined(); // not kept in memory
  expect(await q.enqueue({ key: 'k0', mailbox: 'desk', webhooks: ['erp'], ticketId: 'T0', articleNo: 1, gate: null })).toEqual([]); // still deduped
  const started = performance.now();
  for (let i = 0; i < 2000; i++) expect(q.pending()).toHaveLength(1);
  // 2000 ticks over 1 pending row; scanning 100k rows each time takes seconds.
  expect(performance.now() - started).toBeLessThan(500);
  expect(q.pending()[0]!.id).toBe(left!.id);
  expect(q.depth().get('erp')).toEqual({ pending: 1, held: 0, dead: 0, blocked: 0 });
  await q.close();
}, 60_000);

it('a held ticket: recorded, not pending, no gate; approval queues it as of then, rejection cancels, restart reconciles', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'whq-'));
  const store = storeView(new Map([['H1', 'held'], ['H2', 'held'], ['H3', 'held']]));
  let q = await WebhookQueue.open(dir, store);
  for (const t of ['H1', 'H2', 'H3']) await q.enqueue({ key: t, mailbox: 'desk', webhooks: ['erp'], ticketId: t, articleNo: 1, gate: `action-${t}` });
  await q.enqueue({ key: 'H1r', mailbox: 'desk', webhooks: ['erp'], ticketId: 'H1', articleNo: 2, gate: 'action-H1r' });
  expect(q.pending()).toEqual([]);
  expect(q.holds('action-H1')).toBe(false); // the server action does not wait for an approval
  expect(q.depth().get('erp')).toMatchObject({ pending: 0, held: 4 });
  expect(await q.settleHeld('H1')).toEqual([]); // still held: nothing to do
  store.statuses.set('H1', 'open');
  const before = Date.now();
  const released = await q.settleHeld('H1');
  expect(released.map((d) => [d.articleNo, d.event, d.status, d.gate])).toEqual([[1, 'ticket.created', 'pending', null], [2, 'article.created', 'pending', null]]);
  expect(Date.parse(released[0]!.createdAt)).toBeGreaterThanOrEqual(before - 1000);
  store.statuses.set('H2', 'rejected');
  await q.settleHeld('H2');
  // H3 is approved while the daemon is down (crash between setStatus and settleHeld).
  store.statuses.set('H3', 'open');
  await q.close();
  q = await WebhookQueue.open(dir, store);
  expect(q.pending().map((d) => d.ticketId).sort()).toEqual(['H1', 'H1', 'H3']);
  expect(q.depth().get('erp')).toMatchObject({ pending: 3, held: 0, dead: 0 });
  await q.close();
});

it('a crash between the commit and the enqueue: a reopening reply\'s intent still announces the ticket at open', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'whq-'));
  const keys = new Map([['reply', { ticketId: 'R1', articleNo: 2 }], ['plain', { ticketId: 'R2', articleNo: 2 }]]);
  const store = { ...storeView(new Map([['R1', 'held'], ['R2', 'held']])), findKey: (k: string) => keys.get(k) ?? null };
  let q = await WebhookQueue.open(dir, store);
  await q.intend([{ key: 'reply', mailbox: 'desk', webhooks: ['erp'], gated: false, announce: true }, { key: 'plain', mailbox: 'desk', webhooks: ['erp'], gated: false }]);
  await q.close(); // the store committed both; the process died before enqueue()
  q = await WebhookQueue.open(dir, store);
  expect(q.all().map((d) => [d.ticketId, d.event, d.status])).toEqual([['R1', 'ticket.created', 'held'], ['R2', 'article.created', 'held']]);
  await q.close();
});
