// Pagination over HTTP across 10,000 tickets in a started Daemon: walking every page with the cursor
// returns every visible ticket exactly once, in stable creation order, and ends with next: null —
// for the all-companies token, for a one-company token (never a foreign ticket), with filters, in
// both orders, and while new tickets keep arriving.
import { ticketStoreOf } from '../support/store-of.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { sampleItem } from '../support/store-sample.js';
import type { CommitItem } from '../../src/store/types.js';
import { checkedFetch } from '../support/openapi-check.js';

const N = 10_000;
const TOKEN_ALL = 'pagination-all-0123456789abcdef';
const TOKEN_ACME = 'pagination-acme-0123456789abcdef';

let root: string;
let daemon: Daemon;
let base: string;
let uid = 0;
/** ticket ids in creation order, with what the filters look at */
const created: { id: string; company: string; status: string }[] = [];

function item(i: number): CommitItem {
  const company = i % 3 === 0 ? 'globex' : 'acme';
  return sampleItem({
    uid: ++uid,
    company,
    prefix: company === 'acme' ? 'ACME' : 'GLX',
    status: i % 7 === 0 ? 'held' : 'open',
    textBytes: 40,
    checkpoint: false,
    action: 'keep',
  });
}

async function seed(from: number, count: number): Promise<void> {
  const items = Array.from({ length: count }, (_, k) => item(from + k));
  const res = await ticketStoreOf(daemon).commit(items);
  res.forEach((r, k) => created.push({ id: r.ticketId, company: items[k]!.ticket.company, status: items[k]!.ticket.status }));
}

interface Page {
  items: { id: string; company: string; status: string }[];
  next: string | null;
}

async function getPage(query: string, token: string): Promise<Page> {
  const res = await checkedFetch(`${base}/v1/tickets?${query}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}

/** Walk every page; `during` runs once after the third page. */
async function walk(query: string, token: string, limit: number, during?: () => Promise<void>): Promise<Page['items']> {
  const all: Page['items'] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q: string = [query, `limit=${limit}`, cursor ? `cursor=${encodeURIComponent(cursor)}` : ''].filter(Boolean).join('&');
    const page = await getPage(q, token);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    if (page.next !== null) expect(page.items.length).toBe(limit);
    all.push(...page.items);
    cursor = page.next;
    if (++pages === 3 && during) await during();
  } while (cursor !== null);
  return all;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailroom-api-pages-'));
  const dir = join(root, 'config');
  await mkdir(dir, { recursive: true });
  const config = {
    version: 1,
    server: {
      listen: '127.0.0.1:0',
      apiTokens: [
        { name: 'platform', token: TOKEN_ALL, companies: ['*'] },
        { name: 'acme-app', token: TOKEN_ACME, companies: ['acme'] },
      ],
    },
    store: { path: join(root, 'data') },
    companies: { acme: {}, globex: {} },
  };
  await writeFile(join(dir, 'mailroom.yaml'), stringify(config));
  daemon = new Daemon({ configPath: dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  base = `http://127.0.0.1:${daemon.http.address()!.port}`;
  for (let i = 0; i < N; i += 1000) await seed(i, 1000);
  expect(ticketStoreOf(daemon).stats().tickets).toBe(N);
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('pagination over 10,000 tickets', () => {
  it('default page size is 50', async () => {
    const page = await getPage('', TOKEN_ALL);
    expect(page.items).toHaveLength(50);
    expect(page.items.map((t) => t.id)).toEqual(created.slice(0, 50).map((t) => t.id));
    expect(page.next).toEqual(expect.any(String));
  });

  it('all-companies token, max page size: every ticket once, in creation order, next null at the end', async () => {
    const items = await walk('', TOKEN_ALL, 500);
    expect(items).toHaveLength(N);
    expect(new Set(items.map((t) => t.id)).size).toBe(N);
    expect(items.map((t) => t.id)).toEqual(created.map((t) => t.id));
  });

  it('the same walk twice gives the same pages (stable order)', async () => {
    const a = await walk('', TOKEN_ALL, 333);
    const b = await walk('', TOKEN_ALL, 333);
    expect(a.map((t) => t.id)).toEqual(b.map((t) => t.id));
    expect(a).toHaveLength(N);
  });

  it('one-company token: exactly its own tickets, never a foreign one', async () => {
    const items = await walk('', TOKEN_ACME, 137);
    const expected = created.filter((t) => t.company === 'acme').map((t) => t.id);
    expect(items.map((t) => t.id)).toEqual(expected);
    expect(items.every((t) => t.company === 'acme')).toBe(true);
    // Asking for the other company walks nothing.
    expect(await walk('company=globex', TOKEN_ACME, 500)).toEqual([]);
  });

  it('filters: company + status', async () => {
    const items = await walk('company=globex&status=held', TOKEN_ALL, 100);
    const expected = created.filter((t) => t.company === 'globex' && t.status === 'held').map((t) => t.id);
    expect(expected.length).toBeGreaterThan(400);
    expect(items.map((t) => t.id)).toEqual(expected);
  });

  it('newest first (order=desc) is the exact reverse', async () => {
    const items = await walk('order=desc', TOKEN_ALL, 499);
    expect(items.map((t) => t.id)).toEqual(created.map((t) => t.id).reverse());
  });

  it('tickets arriving during a walk: none missed, none twice (oldest-first walks see them at the end)', async () => {
    const before = created.length;
    const items = await walk('', TOKEN_ALL, 500, () => seed(N, 25));
    expect(created.length).toBe(before + 25);
    expect(items.map((t) => t.id)).toEqual(created.map((t) => t.id));
  });
});
