// The ticket API end to end over HTTP against a started Daemon (no mailboxes; tickets are seeded
// straight into its store): auth, tenant isolation, input validation, the ticket view, raw and
// attachment downloads, and the approve/reject flow.
import { ticketStoreOf } from '../support/store-of.js';
import { readFileSync } from 'node:fs';
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

const TOKEN_ACME = 'acme-token-0123456789abcdef';
const TOKEN_GLOBEX = 'globex-token-0123456789abcdef';
const TOKEN_ALL = 'all-companies-token-0123456789';
const TOKEN_FILE_VALUE = 'file-token-for-acme-0123456789';

let root: string;
let daemon: Daemon;
let base: string;
let uid = 0;

async function startDaemon(): Promise<void> {
  root = await mkdtemp(join(tmpdir(), 'mailroom-api-'));
  const dir = join(root, 'config');
  await mkdir(dir, { recursive: true });
  await writeFile(join(root, 'acme.token'), `${TOKEN_FILE_VALUE}\n`);
  const config = {
    version: 1,
    server: {
      listen: '127.0.0.1:0',
      apiTokens: [
        { name: 'acme-app', token: TOKEN_ACME, companies: ['acme'] },
        { name: 'globex-app', token: TOKEN_GLOBEX, companies: ['globex'] },
        { name: 'platform', token: TOKEN_ALL, companies: ['*'] },
        { name: 'acme-file', tokenFile: join(root, 'acme.token'), companies: ['acme'] },
      ],
    },
    store: { path: join(root, 'data') },
    companies: { acme: {}, globex: {}, initech: {} },
  };
  await writeFile(join(dir, 'mailroom.yaml'), stringify(config));
  daemon = new Daemon({ configPath: dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  base = `http://127.0.0.1:${daemon.http.address()!.port}`;
}

function item(company: 'acme' | 'globex', o: { status?: 'open' | 'held'; subject?: string } = {}): CommitItem {
  return sampleItem({
    uid: ++uid,
    company,
    prefix: company === 'acme' ? 'ACME' : 'GLX',
    mailbox: `${company}-desk`,
    status: o.status ?? 'open',
    action: 'keep',
    checkpoint: false,
    ...(o.subject !== undefined && { subject: o.subject }),
  });
}

async function seed(items: CommitItem[]): Promise<string[]> {
  const res = await ticketStoreOf(daemon).commit(items);
  return res.map((r) => r.ticketId);
}

function api(path: string, token: string | null = TOKEN_ACME, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  return checkedFetch(base + path, { ...init, headers });
}

async function json<T = any>(res: Response): Promise<T> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as T;
}

// A raw message with CRLFs and 8-bit bytes: the raw endpoint must give back exactly these bytes.
const RAW = Buffer.concat([
  Buffer.from('From: Jane <jane@customer.example>\r\nTo: desk@acme.example\r\nSubject: Rechnung\r\nDate: Tue, 07 May 2024 10:11:12 +0200\r\nMessage-ID: <raw-1@customer.example>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n', 'latin1'),
  Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65, 0x0d, 0x0a, 0x00, 0xff, 0x0d, 0x0a]),
]);
const PDF = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n', 'latin1');
const EVIL_HTML =
  '<p onclick="steal()">Hello <b>there</b></p><script>alert(document.cookie)</script>' +
  '<img src="https://tracker.example/p.gif"><img src="cid:logo@acme" onerror="x()"><a href="javascript:alert(1)">click</a>' +
  '<svg onload="alert(1)"><circle/></svg><a href="https://acme.example/help">help</a><div style="position:fixed">s</div>';

let acmeRich: string; // ACME ticket with raw, html, attachments
let acmeRawSha: string;
let pdfSha: string;
let acmeOpen: string[];
let globexIds: string[];
let held: string[];
let globexHeld: string;

beforeAll(async () => {
  await startDaemon();
  const store = ticketStoreOf(daemon);
  // one pack: the PDF is read from the middle of the file, after the raw message
  [acmeRawSha, pdfSha] = (await store.blobs.putMany([RAW, PDF])) as [string, string];
  const rich = item('acme', { subject: 'Rechnung' });
  rich.article = {
    ...rich.article,
    rawRef: acmeRawSha,
    html: EVIL_HTML,
    headers: { ...rich.article.headers, date: ['Tue, 07 May 2024 10:11:12 +0200'] },
    cc: [{ name: 'Boss', address: 'boss@customer.example' }],
    flags: ['auto-reply'],
    attachments: [
      { id: pdfSha, filename: 'Rechnung März "2024".pdf', contentType: 'application/pdf', size: PDF.length, inline: false },
      { id: '0'.repeat(64), filename: 'huge.bin', contentType: 'application/octet-stream', size: 99_000_000, inline: false },
      { id: pdfSha, filename: 'evil.html', contentType: 'text/html', size: PDF.length, inline: false },
    ],
  };
  acmeRich = (await seed([rich]))[0]!;
  acmeOpen = await seed([item('acme'), item('acme'), item('acme')]);
  globexIds = await seed([item('globex'), item('globex')]);
  held = await seed([item('acme', { status: 'held' }), item('acme', { status: 'held' }), item('acme', { status: 'held' }), item('acme', { status: 'held' })]);
  globexHeld = (await seed([item('globex', { status: 'held' })]))[0]!;
});

afterAll(async () => {
  await daemon?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('authentication', () => {
  const paths = () => [
    ['GET', '/v1/tickets'],
    ['GET', `/v1/tickets/${acmeRich}`],
    ['GET', `/v1/tickets/${acmeRich}/articles/1/raw`],
    ['GET', `/v1/tickets/${acmeRich}/attachments/1.1`],
    ['POST', `/v1/tickets/${held[0]}/approve`],
    ['POST', `/v1/tickets/${held[0]}/reject`],
  ];

  it('401 with WWW-Authenticate: Bearer without a token, on every endpoint', async () => {
    for (const [method, path] of paths()) {
      const res = await api(path!, null, { method: method! });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      expect(await json(res)).toEqual({ error: 'missing or invalid bearer token' });
    }
  });

  it('401 for a wrong token, another scheme, or an empty bearer; the body never echoes what was sent', async () => {
    const wrong = 'not-the-token-but-looks-secret-42';
    for (const auth of [`Bearer ${wrong}`, `Basic ${Buffer.from(`x:${TOKEN_ACME}`).toString('base64')}`, 'Bearer ', `Bearer ${TOKEN_ACME}x`, TOKEN_ACME]) {
      const res = await fetch(`${base}/v1/tickets/${acmeRich}`, { headers: { authorization: auth } });
      expect(res.status, auth).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      const text = await res.text();
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(TOKEN_ACME);
    }
    // A held ticket stays held after unauthenticated approve attempts.
    expect(ticketStoreOf(daemon).findByTicketId(held[0]!)!.status).toBe('held');
  });

  it('a token from tokenFile works like an inline one', async () => {
    const res = await api(`/v1/tickets/${acmeRich}`, TOKEN_FILE_VALUE);
    expect(res.status).toBe(200);
  });

  it('a token passed in the query string is refused, not echoed', async () => {
    const res = await api(`/v1/tickets?access_token=${TOKEN_ALL}`, null);
    expect(res.status).toBe(401);
    const res2 = await api(`/v1/tickets?access_token=${TOKEN_ALL}`);
    expect(res2.status).toBe(400);
    expect(await res2.text()).not.toContain(TOKEN_ALL);
  });
});

describe('tenant isolation', () => {
  it("a token gets 404 — the same as for an unknown id — for another company's ticket, on every endpoint", async () => {
    const unknown = await api('/v1/tickets/ACME-999999');
    expect(unknown.status).toBe(404);
    const unknownBody = await json(unknown);
    for (const id of globexIds) {
      const res = await api(`/v1/tickets/${id}`);
      expect(res.status).toBe(404);
      expect(await json(res)).toEqual(unknownBody);
      expect((await api(`/v1/tickets/${id}/articles/1/raw`)).status).toBe(404);
      expect((await api(`/v1/tickets/${id}/attachments/1.1`)).status).toBe(404);
    }
    for (const action of ['approve', 'reject']) {
      const res = await api(`/v1/tickets/${globexHeld}/${action}`, TOKEN_ACME, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(await json(res)).toEqual(unknownBody);
    }
    expect(ticketStoreOf(daemon).findByTicketId(globexHeld)!.status).toBe('held');
    // The owner and the all-companies token do see it.
    expect((await api(`/v1/tickets/${globexIds[0]}`, TOKEN_GLOBEX)).status).toBe(200);
    expect((await api(`/v1/tickets/${globexIds[0]}`, TOKEN_ALL)).status).toBe(200);
    expect((await api(`/v1/tickets/${acmeRich}`, TOKEN_GLOBEX)).status).toBe(404);
  });

  it("a list never includes another company's tickets; filtering on a foreign company is an empty list", async () => {
    const all = await json((await api('/v1/tickets?limit=500'))!);
    expect(all.items.length).toBeGreaterThan(0);
    expect(all.items.every((t: { company: string }) => t.company === 'acme')).toBe(true);
    expect(all.items.map((t: { id: string }) => t.id)).not.toEqual(expect.arrayContaining([globexIds[0]]));
    for (const company of ['globex', 'initech', 'no-such-company']) {
      const res = await api(`/v1/tickets?company=${company}`);
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({ items: [], next: null });
    }
    const platform = await json(await api('/v1/tickets?limit=500', TOKEN_ALL));
    expect(new Set(platform.items.map((t: { company: string }) => t.company))).toEqual(new Set(['acme', 'globex']));
    const globex = await json(await api('/v1/tickets?company=globex', TOKEN_ALL));
    expect(globex.items.map((t: { id: string }) => t.id)).toEqual([...globexIds, globexHeld]);
  });

  it('/v1/status: a company token sees no config file names, reload problems or restart notes (they name other tenants)', async () => {
    const scoped = await json(await api('/v1/status'));
    expect(scoped.config.hash).toEqual(expect.any(String));
    expect(scoped.config).not.toHaveProperty('files');
    expect(scoped.config).not.toHaveProperty('restartRequired');
    expect(scoped.config.lastReload).not.toHaveProperty('problems');
    const admin = await json(await api('/v1/status', TOKEN_ALL));
    expect(admin.config.files.length).toBeGreaterThan(0);
    expect(admin.config.lastReload.problems).toEqual(expect.any(Array));
  });

  it("an attachment is only served through a ticket it belongs to (even with its content hash)", async () => {
    expect((await api(`/v1/tickets/${acmeOpen[0]}/attachments/${pdfSha}`)).status).toBe(404);
    expect((await api(`/v1/tickets/${acmeOpen[0]}/attachments/1.1`)).status).toBe(404);
    expect((await api(`/v1/tickets/${globexIds[0]}/attachments/${pdfSha}`, TOKEN_GLOBEX)).status).toBe(404);
  });
});

describe('GET /v1/tickets/:id', () => {
  it('returns the ticket with its articles: text, sanitised html, addresses, date, attachments with URLs', async () => {
    const res = await api(`/v1/tickets/${acmeRich}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const t = await json(res);
    expect(t).toMatchObject({ id: acmeRich, company: 'acme', status: 'open', subject: 'Rechnung', articleCount: 1, fields: {} });
    const a = t.articles[0];
    expect(a).toMatchObject({
      no: 1,
      subject: 'Rechnung',
      messageId: expect.any(String),
      from: { name: 'Jane Customer', address: 'jane@customer.example' },
      to: [{ name: 'ACME Support', address: 'acme-desk@acme.example' }],
      cc: [{ name: 'Boss', address: 'boss@customer.example' }],
      date: '2024-05-07T08:11:12.000Z',
      flags: ['auto-reply'],
      rawUrl: `/v1/tickets/${acmeRich}/articles/1/raw`,
    });
    expect(a.text).toContain('our order did not arrive');
    expect(a.html).toContain('Hello <b>there</b>');
    expect(a.html).toContain('<img src="cid:logo@acme" />');
    expect(a.html).toContain('href="https://acme.example/help"');
    for (const bad of ['<script', 'onclick', 'onerror', 'onload', 'javascript:', 'tracker.example', '<svg', 'style=']) expect(a.html).not.toContain(bad);
    expect(a.attachments).toEqual([
      { id: '1.1', filename: 'Rechnung März "2024".pdf', contentType: 'application/pdf', size: PDF.length, inline: false, url: `/v1/tickets/${acmeRich}/attachments/1.1` },
      { id: '1.2', filename: 'huge.bin', contentType: 'application/octet-stream', size: 99_000_000, inline: false, url: `/v1/tickets/${acmeRich}/attachments/1.2` },
      { id: '1.3', filename: 'evil.html', contentType: 'text/html', size: PDF.length, inline: false, url: `/v1/tickets/${acmeRich}/attachments/1.3` },
    ]);
  });

  it('never includes dedupe keys, blob refs, raw headers or the id prefix', async () => {
    const text = await (await api(`/v1/tickets/${acmeRich}`)).text();
    for (const secret of ['dedupeKeys', 'rawRef', 'imap:acme-desk', 'mid:acme', acmeRawSha, pdfSha, 'x-mailer', 'Example Mail 1.0', 'mx.customer.example', '"received"', '"prefix"', '"headers"']) {
      expect(text).not.toContain(secret);
    }
  });

  it('404 for unknown ids, malformed escapes and over-long ids — and the daemon keeps running', async () => {
    for (const p of ['/v1/tickets/ACME-000000', '/v1/tickets/%E0%A4%A', '/v1/tickets/%', `/v1/tickets/${'A'.repeat(300)}`, '/v1/tickets/%E0/articles/1/raw']) {
      const res = await api(p);
      expect(res.status, p).toBe(404);
    }
    expect((await api('/-/healthy', null)).status).toBe(200);
  });

  it('400 for any query parameter', async () => {
    const res = await api(`/v1/tickets/${acmeRich}?include=headers`);
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: 'invalid query: include unknown parameter (none allowed)', details: [{ field: 'include', message: 'unknown parameter (none allowed)' }] });
  });
});

describe('GET /v1/tickets/:id/articles/:n/raw', () => {
  it('serves exactly the stored bytes as message/rfc822', async () => {
    const res = await api(`/v1/tickets/${acmeRich}/articles/1/raw`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('message/rfc822');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${acmeRich}-1.eml"; filename*=UTF-8''${acmeRich}-1.eml`);
    expect(Number(res.headers.get('content-length'))).toBe(RAW.length);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(RAW)).toBe(true);
  });

  it('404 for an article that does not exist or has no stored raw; 400 for a non-number', async () => {
    expect((await api(`/v1/tickets/${acmeRich}/articles/2/raw`)).status).toBe(404);
    const noRaw = await api(`/v1/tickets/${acmeOpen[0]}/articles/1/raw`);
    expect(noRaw.status).toBe(404);
    expect((await json(noRaw)).error).toMatch(/raw message .* not kept/);
    for (const n of ['abc', '0', '-1', '1.5']) {
      const res = await api(`/v1/tickets/${acmeRich}/articles/${n}/raw`);
      expect(res.status, n).toBe(400);
      expect((await json(res)).details[0].field).toBe('n');
    }
  });
});

describe('GET /v1/tickets/:id/attachments/:attId', () => {
  it('serves the bytes with their type, a safe Content-Disposition and nosniff', async () => {
    const res = await api(`/v1/tickets/${acmeRich}/attachments/1.1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="Rechnung M_rz _2024_.pdf"; filename*=UTF-8''Rechnung%20M%C3%A4rz%20%222024%22.pdf`);
    expect(Buffer.from(await res.arrayBuffer()).equals(PDF)).toBe(true);
  });

  it('HTML attachments are downloads in a sandbox, never rendered in the API origin', async () => {
    const res = await api(`/v1/tickets/${acmeRich}/attachments/1.3`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
  });

  it('the content hash works as an alias for an attachment of this ticket', async () => {
    const res = await api(`/v1/tickets/${acmeRich}/attachments/${pdfSha}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(PDF)).toBe(true);
  });

  it('404 for unknown attachment ids and for content that was not kept', async () => {
    for (const att of ['1.4', '2.1', '0.1', 'x', '../../blobs', 'f'.repeat(64)]) {
      expect((await api(`/v1/tickets/${acmeRich}/attachments/${encodeURIComponent(att)}`)).status, att).toBe(404);
    }
    const big = await api(`/v1/tickets/${acmeRich}/attachments/1.2`);
    expect(big.status).toBe(404);
    expect((await json(big)).error).toMatch(/not kept/);
  });
});

describe('approve / reject', () => {
  it('approve moves a held ticket to open; a second approve or a reject is then 409', async () => {
    const id = held[0]!;
    const res = await api(`/v1/tickets/${id}/approve`, TOKEN_ACME, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ id, status: 'open' });
    expect((await json(await api(`/v1/tickets/${id}`))).status).toBe('open');
    for (const action of ['approve', 'reject']) {
      const again = await api(`/v1/tickets/${id}/${action}`, TOKEN_ACME, { method: 'POST' });
      expect(again.status).toBe(409);
      expect(await json(again)).toMatchObject({ status: 'open' });
    }
  });

  it('reject (with a JSON reason) gives the ticket a final status; then 409', async () => {
    const id = held[1]!;
    const res = await api(`/v1/tickets/${id}/reject`, TOKEN_ACME, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ reason: 'spam' }),
    });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ id, status: 'rejected' });
    expect((await api(`/v1/tickets/${id}/approve`, TOKEN_ACME, { method: 'POST' })).status).toBe(409);
    expect((await api(`/v1/tickets/${id}/reject`, TOKEN_ACME, { method: 'POST' })).status).toBe(409);
  });

  it('409 for a ticket that was never held', async () => {
    const res = await api(`/v1/tickets/${acmeOpen[0]}/approve`, TOKEN_ACME, { method: 'POST' });
    expect(res.status).toBe(409);
    expect(await json(res)).toEqual({ error: 'ticket is open, not held: only held tickets can be approved', status: 'open' });
  });

  it('concurrent approve and reject of one held ticket: exactly one wins', async () => {
    const id = held[2]!;
    const results = await Promise.all(
      ['approve', 'reject', 'approve', 'reject'].map((a) => api(`/v1/tickets/${id}/${a}`, TOKEN_ACME, { method: 'POST' }).then((r) => r.status)),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(1);
    expect(results.filter((s) => s === 409)).toHaveLength(3);
  });

  it('bodies are validated: 415 wrong content type, 413 over 1 MB, 400 bad JSON or unknown fields', async () => {
    const id = held[3]!;
    const post = (body: string | Uint8Array, type?: string) =>
      api(`/v1/tickets/${id}/reject`, TOKEN_ACME, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
    const r415 = await post('reason=spam', 'application/x-www-form-urlencoded');
    expect(r415.status).toBe(415);
    expect(await json(r415)).toEqual({ error: 'request body must be application/json' });
    expect((await post('{"reason":"x"}', 'text/plain')).status).toBe(415);
    expect((await post('{"reason":"x"}', 'application/json; charset=latin1')).status).toBe(415);
    const r413 = await post(JSON.stringify({ reason: 'x'.repeat(1024 * 1024) }), 'application/json');
    expect(r413.status).toBe(413);
    const bad = await post(`{"reason": "${TOKEN_ALL}"`, 'application/json');
    expect(bad.status).toBe(400);
    const badText = await bad.text();
    expect(badText).not.toContain(TOKEN_ALL);
    const unknown = await post(JSON.stringify({ reason: 'x', status: 'open' }), 'application/json');
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).details).toEqual([{ field: 'status', message: 'unknown field (allowed: reason)' }]);
    const wrongType = await post(JSON.stringify({ reason: 42 }), 'application/json');
    expect((await json(wrongType)).details).toEqual([{ field: 'reason', message: 'must be a string' }]);
    const notObject = await post('[1]', 'application/json');
    expect((await json(notObject)).details).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
    // Nothing of that changed the ticket; an empty JSON object is fine.
    expect(ticketStoreOf(daemon).findByTicketId(id)!.status).toBe('held');
    expect((await post('{}', 'application/json')).status).toBe(200);
  });

  it('GET on approve is 405', async () => {
    expect((await api(`/v1/tickets/${held[3]}/approve`)).status).toBe(405);
  });
});

describe('GET /v1/tickets validation (400 with details)', () => {
  const cases: [string, { field: string; message: string }][] = [
    ['limit=0', { field: 'limit', message: 'must be >= 1' }],
    ['limit=501', { field: 'limit', message: 'must be <= 500' }],
    ['limit=abc', { field: 'limit', message: 'must be an integer' }],
    ['limit=1.5', { field: 'limit', message: 'must be an integer' }],
    ['limit=', { field: 'limit', message: 'must be an integer' }],
    ['status=bogus', { field: 'status', message: 'must be one of open, held, dropped, rejected' }],
    ['since=not-a-date', { field: 'since', message: 'must be an ISO 8601 date-time with a time zone, e.g. 2024-05-01T00:00:00Z' }],
    ['since=2024-05-01T00:00:00', { field: 'since', message: 'must be an ISO 8601 date-time with a time zone, e.g. 2024-05-01T00:00:00Z' }],
    ['company=../etc', { field: 'company', message: 'must be a company id (letters, digits, -, _, .; at most 64 characters)' }],
    ['order=sideways', { field: 'order', message: 'must be one of asc, desc' }],
    ['cursor=%%%', { field: 'cursor', message: 'must be the `next` value of a previous page' }],
    ['cursor=bm90LWEtY3Vyc29y', { field: 'cursor', message: 'must be the `next` value of a previous page' }],
    ['colour=red', { field: 'colour', message: 'unknown parameter (allowed: company, contract, status, since, cursor, limit, order)' }],
    ['limit=5&limit=6', { field: 'limit', message: 'must be given at most once' }],
  ];
  for (const [q, detail] of cases) {
    it(`?${q}`, async () => {
      const res = await api(`/v1/tickets?${q}`);
      expect(res.status).toBe(400);
      const body = await json(res);
      expect(body.details).toEqual([detail]);
      expect(body.error).toBe(`invalid query: ${detail.field} ${detail.message}`);
    });
  }

  it('reports every problem at once', async () => {
    const res = await api('/v1/tickets?limit=0&status=x&foo=1');
    expect((await json(res)).details).toHaveLength(3);
  });

  it('a cursor from the other sort order is rejected', async () => {
    const page = await json(await api('/v1/tickets?limit=1&order=desc'));
    expect(page.next).toEqual(expect.any(String));
    expect((await api(`/v1/tickets?order=asc&cursor=${page.next}`)).status).toBe(400);
  });

  it('valid filters work: status, contract, since, defaults', async () => {
    const heldList = await json(await api('/v1/tickets?status=held', TOKEN_ALL));
    expect(heldList.items.every((t: { status: string }) => t.status === 'held')).toBe(true);
    expect((await json(await api('/v1/tickets?contract=nope'))).items).toEqual([]);
    expect((await json(await api('/v1/tickets?since=2999-01-01T00:00:00Z'))).items).toEqual([]);
    const future = await json(await api('/v1/tickets?since=2000-01-01T00:00:00%2B02:00&limit=2'));
    expect(future.items).toHaveLength(2);
    expect(future.items[0]).toMatchObject({ id: acmeRich, url: `/v1/tickets/${acmeRich}` });
    expect(Object.keys(future.items[0]).sort()).toEqual(
      ['articleCount', 'company', 'contract', 'createdAt', 'from', 'group', 'id', 'lastArticleAt', 'priority', 'status', 'subject', 'tags', 'type', 'updatedAt', 'url'].sort(),
    );
  });
});

describe('GET /openapi.json', () => {
  it('serves the committed contract to anyone, without a token', async () => {
    const res = await api('/openapi.json', null);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(readFileSync(new URL('../../schemas/openapi.json', import.meta.url), 'utf8'));
  });
});
