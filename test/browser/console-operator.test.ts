// The operator console in a real headless Chromium against a real daemon and Dovecot, signed in with
// an admin token: sign-in, a suspended mailbox shown and resumed, held tickets approved and rejected
// (the daemon's state changes), a dead letter replayed; a screenshot of each page.
import { ticketStoreOf } from '../support/store-of.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import type { Ticket } from '../../src/store/index.js';
import { message } from '../support/daemon-config.js';
import { statusOf } from '../support/inbound.js';
import { ADMIN_TOKEN, fixPassword, launchBrowser, screenshot, signIn, startConsoleFixture, waitFor, type ConsoleFixture } from '../support/console-fixture.js';

let f: ConsoleFixture;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let context: BrowserContext;
let page: Page;

const heldIds = (company: string) => ticketStoreOf(f.daemon).listTickets({ companies: [company], status: 'held', limit: 10 }).items.map((t) => t.id);
const statusOfTicket = async (id: string) => ((await f.daemon.stores!.tickets.summary(id)) as Ticket | null)?.status;

beforeAll(async () => {
  f = await startConsoleFixture('cop');
  await f.dovecot.append(f.users.acme, message(1, { subject: 'Invoice 42 needs approval' }));
  await f.dovecot.append(f.users.globex, message(2, { subject: 'Globex asks for a refund' }));
  await waitFor(() => heldIds('acme').length === 1 && heldIds('globex').length === 1, 15_000, 'held tickets');
  await waitFor(() => statusOf(f.daemon, 'acme-bad').state === 'suspended', 15_000, 'acme-bad suspended');
  browser = await launchBrowser();
  context = browser.context;
  page = await context.newPage();
  page.on('dialog', (d) => void d.accept()); // the "Are you sure?" of reject and replay all
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await f?.stop();
});

describe('operator console (admin token)', () => {
  it('sign-in: a wrong token is refused; the right one gives an HttpOnly, SameSite=Strict session cookie without the token', async () => {
    await page.goto(`${f.base}/console/mailboxes`);
    expect(page.url()).toBe(`${f.base}/console/login`);
    await screenshot(page, '01-sign-in');
    await page.getByLabel('API token').fill('not-a-token-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('Invalid token.');
    await signIn(page, f.base, ADMIN_TOKEN);
    const cookies = await context.cookies(`${f.base}/console`);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: 'mailroom_console', httpOnly: true, sameSite: 'Strict', path: '/console' });
    expect(cookies[0]!.value).not.toContain(ADMIN_TOKEN);
    expect(page.url()).not.toContain(ADMIN_TOKEN);
    expect(await page.getByText('Signed in as').textContent()).toContain('ops');
  });

  it('shows the suspended mailbox with its error and hint, and resumes it (the daemon polls it again)', async () => {
    await page.goto(`${f.base}/console/mailboxes`);
    const row = page.getByRole('row').filter({ hasText: 'acme-bad' });
    expect(await row.getByText('suspended', { exact: true }).count()).toBe(1);
    expect(await row.textContent()).toMatch(/auth/i);
    await screenshot(page, '02-mailboxes-suspended');
    await page.getByLabel('Company').selectOption('globex');
    await page.waitForURL(/company=globex/);
    expect(await page.getByRole('row').filter({ hasText: 'acme-bad' }).count()).toBe(0);
    expect(await page.getByRole('row').filter({ hasText: 'globex-desk' }).count()).toBe(1);
    await page.goto(`${f.base}/console/mailboxes`);
    await fixPassword(f);
    await page.getByRole('row').filter({ hasText: 'acme-bad' }).getByRole('button', { name: 'Resume' }).click();
    await page.waitForURL(`${f.base}/console/mailboxes`);
    expect(await page.getByRole('status').textContent()).toContain('acme-bad: Resumed.');
    await waitFor(() => statusOf(f.daemon, 'acme-bad').state !== 'suspended' && statusOf(f.daemon, 'acme-bad').lastSuccess !== null, 15_000, 'acme-bad polled again');
    await page.reload();
    expect(await page.getByRole('row').filter({ hasText: 'acme-bad' }).getByRole('button', { name: 'Resume' }).count()).toBe(0);
    await screenshot(page, '03-mailboxes-resumed');
  });

  it('approval queue: approve one company\'s held ticket and reject the other\'s; the daemon\'s tickets change', async () => {
    const [acme] = heldIds('acme');
    const [globex] = heldIds('globex');
    f.receiver.failNext(1, 422); // the approved ticket's webhook becomes a dead letter (replayed below)
    await page.goto(`${f.base}/console/approvals`);
    expect(await page.getByRole('heading', { name: 'acme' }).count()).toBe(1);
    expect(await page.getByRole('heading', { name: 'globex' }).count()).toBe(1);
    expect(await page.getByRole('row').filter({ hasText: acme! }).textContent()).toContain('a route holds it');
    await screenshot(page, '04-approvals');
    await page.getByRole('row').filter({ hasText: acme! }).getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(`${f.base}/console/approvals`);
    expect(await page.getByRole('status').textContent()).toContain(`${acme}: Approved.`);
    expect(await statusOfTicket(acme!)).toBe('open');
    await page.getByRole('row').filter({ hasText: globex! }).getByRole('button', { name: 'Reject' }).click();
    await page.waitForURL(`${f.base}/console/approvals`);
    expect(await page.getByRole('status').textContent()).toContain(`${globex}: Rejected.`);
    expect(await statusOfTicket(globex!)).toBe('rejected');
    expect(await page.getByText('Nothing is waiting for approval.').count()).toBe(1);
  });

  it('webhooks: the dead letter is shown with its error and replayed', async () => {
    await waitFor(async () => (await f.daemon.stores!.deliveries.dead()).length === 1, 15_000, 'dead letter');
    await page.goto(`${f.base}/console/webhooks`);
    const dead = page.getByRole('row').filter({ has: page.getByRole('button', { name: 'Replay', exact: true }) });
    expect(await dead.count()).toBe(1);
    expect(await dead.textContent()).toContain('422');
    await screenshot(page, '05-webhooks-dead-letter');
    await dead.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.waitForURL(`${f.base}/console/webhooks`);
    expect(await page.getByRole('status').textContent()).toContain('Replayed: 1');
    await waitFor(() => f.receiver.accepted.length >= 1, 15_000, 'replayed delivery accepted');
    expect(f.receiver.accepted[0]!.body.ticket.status).toBe('open');
  });

  it('tickets: search, a ticket with its articles and flags, raw download; configuration with explain; screenshots', async () => {
    await page.goto(`${f.base}/console/tickets`);
    expect(await page.getByRole('row').count()).toBe(3); // header + 2 tickets
    await page.getByLabel('Status').selectOption('rejected');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/status=rejected/);
    expect(await page.getByRole('row').count()).toBe(2);
    expect(await page.getByRole('row').nth(1).textContent()).toContain('globex');
    await screenshot(page, '06-tickets');
    const [acme] = ticketStoreOf(f.daemon).listTickets({ companies: ['acme'], limit: 10 }).items.map((t) => t.id);
    await page.goto(`${f.base}/console/tickets/${acme}`);
    expect(await page.getByText('held:route').count()).toBeGreaterThan(0);
    expect(await page.locator('pre.text').textContent()).toContain('Body of request 1');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Raw message' }).click()]);
    expect(download.suggestedFilename()).toBe(`${acme}-1.eml`);
    await screenshot(page, '07-ticket');
    await page.goto(`${f.base}/console/config?company=acme&contract=main`);
    expect(await page.getByText(/hash/).first().textContent()).toContain(f.daemon.snapshot!.hash);
    expect(await page.getByRole('heading', { level: 3 }).textContent()).toContain('company acme');
    await screenshot(page, '08-config');
    await page.goto(`${f.base}/console/lang/pt`);
    await page.goto(`${f.base}/console/mailboxes`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Caixas de correio');
    await screenshot(page, '09-mailboxes-pt');
    await page.goto(`${f.base}/console/lang/en`);
  });

  it('every page has a strict CSP without inline script, and a POST without the CSRF token is refused', async () => {
    const res = await page.request.get(`${f.base}/console/mailboxes`);
    expect(res.headers()['content-security-policy']).toMatch(/script-src 'self'; style-src 'self'/);
    expect(res.headers()['content-security-policy']).not.toMatch(/unsafe-inline/);
    expect(await page.locator('script:not([src])').count()).toBe(0);
    const forged = await page.request.post(`${f.base}/console/webhooks/erp/replay`, { form: { _csrf: 'forged' } });
    expect(forged.status()).toBe(403);
    const foreign = await page.request.post(`${f.base}/console/webhooks/erp/replay`, { form: { _csrf: 'x' }, headers: { origin: 'http://evil.example' } });
    expect(foreign.status()).toBe(403);
    // sign out: the session is gone
    await page.goto(`${f.base}/console/mailboxes`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${f.base}/console/login`);
    await page.goto(`${f.base}/console/tickets`);
    expect(page.url()).toBe(`${f.base}/console/login`);
  });

  it('the token is in no log line; sign-ins and actions are logged by token name', () => {
    expect(f.logs.join('\n')).not.toContain(ADMIN_TOKEN);
    expect(f.logs.some((l) => l.includes('"msg":"console sign-in"') && l.includes('"by":"ops"'))).toBe(true);
    expect(f.logs.some((l) => l.includes('held ticket approved') && l.includes('"by":"ops"'))).toBe(true);
  });
});
