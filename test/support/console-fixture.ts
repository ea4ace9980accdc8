// The operator console's browser tests: a real daemon over a real Dovecot (held mail of two
// companies, a mailbox with a wrong password that gets suspended), a real webhook receiver, and a
// real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core, a fresh profile per
// test file). Screenshots go to test-results/console/ (gitignored) for review.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { startReceiver, type Receiver } from '../peers/webhook-receiver.js';
import { waitFor, writeTestConfig } from './daemon-config.js';
import { makeUsers } from './inbound.js';

export const ADMIN_TOKEN = 'console-admin-token-0123456789abcdef';
export const ACME_TOKEN = 'console-acme-token-0123456789abcdef';
export const WEBHOOK_SECRET = 'console-webhook-secret-0123';
export const SCREENSHOTS = new URL('../../test-results/console/', import.meta.url).pathname;
export const CHROMIUM = process.env.MAILROOM_TEST_CHROMIUM ?? '/usr/bin/chromium';

export interface ConsoleFixture {
  dovecot: Dovecot;
  daemon: Daemon;
  receiver: Receiver;
  base: string;
  passwordsDir: string;
  users: { acme: string; globex: string; bad: string };
  /** every line the daemon logged */
  logs: string[];
  stop(): Promise<void>;
}

/** Dovecot users and a daemon: acme-desk and globex-desk hold every new ticket and send it to webhook erp; acme-bad cannot log in. */
export async function startConsoleFixture(prefix: string): Promise<ConsoleFixture> {
  const users = { acme: `${prefix}-acme`, globex: `${prefix}-globex`, bad: `${prefix}-bad` };
  const dovecot = await startDovecot({ users: makeUsers(Object.values(users)) });
  const receiver = await startReceiver(WEBHOOK_SECRET);
  const cfg = await writeTestConfig(
    dovecot,
    [
      { id: 'acme-desk', user: users.acme, protocol: 'imap', company: 'acme', inbound: { idle: false } },
      { id: 'globex-desk', user: users.globex, protocol: 'imap', company: 'globex', inbound: { idle: false } },
      { id: 'acme-bad', user: users.bad, protocol: 'imap', company: 'acme', password: 'wrong-password-0123', inbound: { idle: false } },
    ],
    {
      server: {
        listen: '127.0.0.1:0',
        apiTokens: [
          { name: 'ops', token: ADMIN_TOKEN, companies: ['*'] },
          { name: 'acme-supervisor', token: ACME_TOKEN, companies: ['acme'] },
        ],
      },
      webhooks: { erp: { url: receiver.url, secret: WEBHOOK_SECRET, timeout: '5s', initialBackoff: '100ms', maxBackoff: '300ms' } },
      routes: ['acme-desk', 'globex-desk'].map((mailbox) => ({ name: `hold-${mailbox}`, match: { mailbox }, hold: true, deliver: ['store', 'webhook:erp'] })),
    },
  );
  const logs: string[] = [];
  const daemon = new Daemon({
    configPath: cfg.dir,
    logger: createLogger('debug', { write: (l: string) => void logs.push(l) }),
    parseWorkers: 0,
    watch: false,
    pollerOptions: { backoff: { baseMs: 50, maxMs: 200 } },
    // no automatic re-check of the secret: the test resumes by hand
    suspension: { authFailureThreshold: 2, recheckMs: 600_000 },
  });
  await daemon.start();
  const base = `http://127.0.0.1:${daemon.http.address()!.port}`;
  return {
    dovecot,
    daemon,
    receiver,
    base,
    passwordsDir: cfg.passwordsDir,
    users,
    logs,
    async stop() {
      await daemon.stop();
      await receiver.close();
      await dovecot.destroy();
    },
  };
}

/** Debian's Chromium with a fresh profile (the flags keep it off the network it cannot reach). */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'mailroom-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1366, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/console`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/console/mailboxes`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export async function fixPassword(f: ConsoleFixture): Promise<void> {
  const user = f.dovecot.users.find((u) => u.user === f.users.bad)!;
  await writeFile(join(f.passwordsDir, 'acme-bad'), `${user.password}\n`);
}

export { waitFor };
