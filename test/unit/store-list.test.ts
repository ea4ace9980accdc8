// Why this file exists: API pagination tests for listTickets over 10,000 tickets on real files —
// cursor pages cover every ticket exactly once (also while new tickets arrive), in both orders,
// with tenant scoping and filters.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleItem } from '../support/store-sample.js';
import { openTicketStore, type TicketStore } from '../../src/store/ticket-store.js';
import type { ListTicketsQuery } from '../../src/store/types.js';

const N = 10_000;
let dir: string;
let s: TicketStore;
let uid = 0;

function item(i: number) {
  const company = i % 3 === 0 ? 'globex' : 'acme';
  return sampleItem({
    uid: ++uid,
    company,
    prefix: company === 'acme' ? 'ACME' : 'GLX',
    status: i % 10 === 0 ? 'held' : 'open',
    contract: i % 2 === 0 ? 'gold' : null,
    textBytes: 50,
    checkpoint: false,
    action: 'keep',
  });
}

async function pageAll(q: Omit<ListTicketsQuery, 'cursor'>, during?: () => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = s.listTickets({ ...q, cursor });
    expect(page.items.length).toBeLessThanOrEqual(q.limit);
    ids.push(...page.items.map((t) => t.id));
    cursor = page.next;
    if (++pages === 3 && during) await during();
  } while (cursor !== null);
  return ids;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-list-'));
  s = await openTicketStore(dir);
  for (let b = 0; b < N; b += 1000) {
    await s.commit(Array.from({ length: 1000 }, (_, k) => item(b + k)));
  }
});
afterAll(async () => {
  await s?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('listTickets', () => {
  it('pages through 10,000 tickets: none twice, none missing, creation order', async () => {
    expect(s.stats().tickets).toBe(N);
    const ids = await pageAll({ companies: '*', limit: 137 });
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    const seqOf = (id: string) => s.findByTicketId(id)?.createdAt;
    expect(seqOf(ids[0] as string)! <= seqOf(ids[N - 1] as string)!).toBe(true);
  });

  it('stays exact while new tickets are committed between pages', async () => {
    const before = new Set(s.listTickets({ companies: '*', limit: 1000 }).items.map((t) => t.id));
    expect(before.size).toBe(1000);
    const ids = await pageAll({ companies: '*', limit: 500 }, async () => {
      await s.commit(Array.from({ length: 25 }, (_, k) => item(N + k)));
    });
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(N + 25); // ascending order: the new ones show up at the end
  });

  it('pages in descending order too', async () => {
    const total = s.stats().tickets;
    const ids = await pageAll({ companies: '*', limit: 999, order: 'desc' });
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    const asc = await pageAll({ companies: '*', limit: 1000 });
    expect(ids).toEqual([...asc].reverse());
  });

  it('scopes to allowed companies and filters', async () => {
    const glx = await pageAll({ companies: ['globex'], limit: 250 });
    expect(glx.every((id) => id.startsWith('GLX-'))).toBe(true);
    const acmeHeldGold = await pageAll({ companies: ['acme', 'globex'], company: 'acme', status: 'held', contract: 'gold', limit: 50 });
    expect(acmeHeldGold.length).toBeGreaterThan(0);
    for (const id of acmeHeldGold) expect(s.findByTicketId(id)).toMatchObject({ company: 'acme', status: 'held', contract: 'gold' });
    expect(s.listTickets({ companies: ['globex'], company: 'acme', limit: 10 })).toEqual({ items: [], next: null });
    expect(s.listTickets({ companies: [], limit: 10 }).items).toEqual([]);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(s.listTickets({ companies: '*', since: future, limit: 10 })).toEqual({ items: [], next: null });
  });

  it('rejects bad cursors', () => {
    expect(() => s.listTickets({ companies: '*', cursor: 'garbage', limit: 10 })).toThrow(expect.objectContaining({ code: 'bad-cursor' }));
    const next = s.listTickets({ companies: '*', limit: 10 }).next as string;
    expect(() => s.listTickets({ companies: '*', cursor: next, limit: 10, order: 'desc' })).toThrow(/sort order/);
  });

  it('returns copies, not the index', () => {
    const [first] = s.listTickets({ companies: '*', limit: 1 }).items;
    first!.tags.push('mutated');
    first!.status = 'dropped';
    const again = s.findByTicketId(first!.id);
    expect(again?.tags).toEqual([]);
    expect(again?.status).not.toBe('dropped');
  });
});
