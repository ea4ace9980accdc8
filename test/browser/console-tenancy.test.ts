// The console in a real headless Chromium with a company token (acme): another company's mailboxes,
// tickets, webhooks and explain are neither shown nor reachable — neither the pages nor the requests
// behind them (downloads, the message frame, a forged approve with a valid CSRF token) — and a
// hostile HTML mail renders inert in the ticket view: no script runs, nothing is fetched from anywhere.
import { ticketStoreOf } from '../support/store-of.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { message } from '../support/daemon-config.js';
import { sampleItem } from '../support/store-sample.js';
import { ACME_TOKEN, launchBrowser, screenshot, signIn, startConsoleFixture, waitFor, type ConsoleFixture } from '../support/console-fixture.js';

let f: ConsoleFixture;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let context: BrowserContext;
let page: Page;
/** A server a hostile mail tries to reach: it must see no request. */
let beacon: Server;
let beaconUrl: string;
const beaconHits: string[] = [];
const dialogs: string[] = [];

const ids = (company: string) => ticketStoreOf(f.daemon).listTickets({ companies: [company], limit: 10 }).items.map((t) => t.id);

function hostileMail(i: number, beaconBase: string): string {
  const html = [
    `<p id="greeting">Hello from a hostile sender</p>`,
    `<script>window.parent.document.title = 'pwned'; alert('xss'); fetch('${beaconBase}/script')</script>`,
    `<img src="${beaconBase}/img.png" onerror="alert('onerror')">`,
    `<a href="javascript:alert('link')">click</a>`,
    `<svg onload="alert('svg')"><image href="${beaconBase}/svg.png"/></svg>`,
    `<div style="background-image:url(${beaconBase}/css.png)">styled</div>`,
    `<iframe src="${beaconBase}/frame"></iframe>`,
    `<form action="${beaconBase}/form"><input name="q" autofocus onfocus="alert('focus')"></form>`,
    `<link rel="stylesheet" href="${beaconBase}/style.css">`,
  ].join('\n');
  return [
    `From: Mallory <mallory${i}@evil.example>`,
    'To: desk@acme.example',
    'Subject: Hostile HTML',
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <hostile-${i}@evil.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '',
  ].join('\r\n');
}

beforeAll(async () => {
  beacon = createServer((req, res) => {
    beaconHits.push(req.url ?? '');
    res.end('');
  });
  await new Promise<void>((r) => beacon.listen(0, '127.0.0.1', r));
  beaconUrl = `http://127.0.0.1:${(beacon.address() as AddressInfo).port}`;
  f = await startConsoleFixture('cten');
  await f.dovecot.append(f.users.acme, message(1, { subject: 'Acme question' }));
  await f.dovecot.append(f.users.globex, message(2, { subject: 'Globex secret plans' }));
  await f.dovecot.append(f.users.acme, hostileMail(3, beaconUrl));
  await waitFor(() => ids('acme').length === 2 && ids('globex').length === 1, 15_000, 'tickets');
  browser = await launchBrowser();
  context = browser.context;
  page = await context.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await signIn(page, f.base, ACME_TOKEN);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await f?.stop();
  await new Promise((r) => beacon?.close(r));
});

describe('console with a company token', () => {
  it('pages show only acme: mailboxes, approvals, tickets (even when filtering on globex), no webhooks', async () => {
    await page.goto(`${f.base}/console/mailboxes`);
    expect(await page.getByRole('row').filter({ hasText: 'globex' }).count()).toBe(0);
    expect(await page.getByRole('row').filter({ hasText: 'acme-desk' }).count()).toBe(1);
    await screenshot(page, '10-company-mailboxes');
    await page.goto(`${f.base}/console/approvals`);
    expect(await page.getByText('Globex secret plans').count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'globex' }).count()).toBe(0);
    expect(await page.getByText('Acme question').count()).toBe(1);
    await screenshot(page, '11-company-approvals');
    await page.goto(`${f.base}/console/tickets?company=globex`);
    expect(await page.getByText('No tickets.').count()).toBe(1);
    await page.goto(`${f.base}/console/tickets`);
    expect(await page.getByText('Globex secret plans').count()).toBe(0);
    expect(await page.getByRole('option', { name: 'globex' }).count()).toBe(0);
    await page.goto(`${f.base}/console/webhooks`);
    expect(await page.getByText('Only an admin token').count()).toBe(1);
    await screenshot(page, '12-company-webhooks');
    await page.goto(`${f.base}/console/config?company=globex`);
    expect(await page.getByText('Not found.').count()).toBe(1);
    await page.goto(`${f.base}/console/config?mailbox=globex-desk`);
    expect(await page.getByText('Not found.').count()).toBe(1);
    await page.goto(`${f.base}/console/config?company=acme`);
    expect(await page.getByRole('heading', { level: 3 }).textContent()).toContain('company acme');
    expect(await page.getByRole('columnheader', { name: 'at' }).count()).toBe(0); // no file locations
  });

  it('another company\'s ticket is not found through any console request, and cannot be approved or rejected', async () => {
    const [globex] = ids('globex');
    const res = await page.goto(`${f.base}/console/tickets/${globex}`);
    expect(res!.status()).toBe(404);
    expect(await page.getByText('Globex secret plans').count()).toBe(0);
    for (const path of [`/console/tickets/${globex}/articles/1/raw`, `/console/tickets/${globex}/articles/1/html`, `/console/tickets/${globex}/attachments/1.1`]) {
      const r = await page.request.get(f.base + path);
      expect(r.status(), path).toBe(404);
      expect(await r.text(), path).not.toContain('Globex secret plans');
    }
    // a valid CSRF token of this session, on a request for globex's ticket: the API says 404, nothing changes
    await page.goto(`${f.base}/console/approvals`);
    const csrf = await page.locator('input[name="_csrf"]').first().getAttribute('value');
    for (const verb of ['approve', 'reject']) {
      const r = await page.request.post(`${f.base}/console/tickets/${globex}/${verb}`, { form: { _csrf: csrf!, back: '/console/approvals' }, maxRedirects: 0 });
      expect(r.status()).toBe(303);
    }
    await page.goto(`${f.base}/console/approvals`);
    expect(await page.getByRole('status').textContent()).toContain('ticket not found');
    expect((await f.daemon.stores!.tickets.summary(globex!))?.status).toBe('held');
    // nor resume another company's mailbox
    const r = await page.request.post(`${f.base}/console/mailboxes/globex-desk/resume`, { form: { _csrf: csrf! }, maxRedirects: 0 });
    expect(r.status()).toBe(303);
    await page.goto(`${f.base}/console/mailboxes`);
    expect(await page.getByRole('status').textContent()).toContain('mailbox globex-desk not found');
  });

  it('a hostile HTML mail renders inert: the sanitised HTML in a sandboxed frame with its own CSP; no script, no request', async () => {
    const hostile = ticketStoreOf(f.daemon).listTickets({ companies: ['acme'], limit: 10 }).items.find((t) => t.subject === 'Hostile HTML')!.id;
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const frameResponse = page.waitForResponse((r) => r.url().endsWith(`/console/tickets/${hostile}/articles/1/html`));
    await page.goto(`${f.base}/console/tickets/${hostile}`);
    const res = await frameResponse;
    expect(res.headers()['content-security-policy']).toMatch(/default-src 'none'.*sandbox/);
    const frameEl = page.locator('iframe.mail');
    expect(await frameEl.getAttribute('sandbox')).toBe('');
    const frame = await (await frameEl.elementHandle())!.contentFrame();
    await frame!.waitForLoadState('load');
    expect(await frame!.locator('body').textContent()).toContain('Hello from a hostile sender');
    expect(await frame!.locator('script').count()).toBe(0);
    await page.waitForTimeout(500);
    await screenshot(page, '13-hostile-ticket');
    expect(dialogs).toEqual([]);
    expect(await page.title()).not.toBe('pwned');
    expect(beaconHits).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(f.base))).toEqual([]);
  });

  it('even HTML the sanitiser let through stays inert in the frame (sandbox and CSP, not only sanitising)', async () => {
    const item = sampleItem({ uid: 900, company: 'acme', prefix: 'ACME', mailbox: 'acme-desk', status: 'open', action: 'keep', checkpoint: false, subject: 'Unsanitised' });
    const unsafe = `<p id="x">raw</p><script>alert('raw'); fetch('${beaconUrl}/raw-script')</script><img src="${beaconUrl}/raw-img.png" onerror="alert('raw-onerror')"><style>p{background:url(${beaconUrl}/raw-css.png)}</style>`;
    Object.assign(item.article, { html: unsafe, safeHtml: unsafe });
    const [r] = await ticketStoreOf(f.daemon).commit([item]);
    await page.goto(`${f.base}/console/tickets/${r!.ticketId}`);
    const frame = await (await page.locator('iframe.mail').elementHandle())!.contentFrame();
    await frame!.waitForSelector('#x');
    await page.waitForTimeout(500);
    expect(dialogs).toEqual([]);
    expect(beaconHits).toEqual([]);
  });
});
