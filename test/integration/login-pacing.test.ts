// A fleet connects politely: mailboxes on one server host log in no faster than
// defaults.inbound.loginsPerSecond (after loginBurst), at start and when they reconnect after the
// server dropped them, and every message is still ingested exactly once. Timed by Dovecot's own log.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { ticketStoreOf } from '../support/store-of.js';
import { message, waitFor, writeTestConfig, type TestMailbox } from '../support/daemon-config.js';

const N = 8;
const RATE = 2; // logins per second to the host
const BURST = 1;
// The limiter spaces the starts of logins; Dovecot logs each when its authentication is done, a
// moment later that varies with load: up to SLACK / RATE seconds of that is tolerated. Without the
// limiter the excess is N - BURST at start and about as much after the kick.
const SLACK = 2;
const users = Array.from({ length: N }, (_, i) => ({ user: `u${i}`, password: `secret-u${i}` }));

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users });
});
afterAll(async () => {
  await dovecot?.destroy();
});

/** The most logins in any window, against what the bucket allows there (burst + window × rate). */
function worstExcess(times: number[]): number {
  const t = [...times].sort((a, b) => a - b);
  let worst = -Infinity;
  for (let i = 0; i < t.length; i++)
    for (let j = i; j < t.length; j++) worst = Math.max(worst, j - i + 1 - (BURST + ((t[j]! - t[i]!) / 1000) * RATE));
  return worst;
}

it('N mailboxes on one host log in at the configured rate, at start and when the server drops them all, and every message is ingested', async () => {
  for (const u of users) await dovecot.appendMany(u.user, [message(1), message(2)]);
  const mailboxes: TestMailbox[] = users.map((u, i) => ({ id: `mb-${u.user}`, user: u.user, protocol: i < 6 ? 'imap' : 'pop3', security: 'none', ...(i >= 6 && { inbound: { pollInterval: '4s' } }) }));
  const cfg = await writeTestConfig(dovecot, mailboxes, { defaults: { inbound: { loginsPerSecond: RATE, loginBurst: BURST, startSpread: '10s' } } });
  // a tiny backoff: without the limiter the reconnects after the restart would all come at once
  const daemon = new Daemon({ configPath: cfg.dir, logger: createLogger(process.env.HF_DEBUG ? 'debug' : 'silent'), parseWorkers: 0, watch: false, pollerOptions: { backoff: { baseMs: 20, maxMs: 40 } } });
  const t0 = Date.now();
  await daemon.start();
  try {
    await waitFor(() => ticketStoreOf(daemon).stats().tickets === 2 * N, 30_000, 'every message ingested');
    const atStart = (await dovecot.loginTimes()).map((l) => l.at).filter((at) => at >= t0 - 1000);
    expect(new Set((await dovecot.loginTimes()).map((l) => l.user)).size).toBe(N);
    // the bucket's bound: burst + window × rate
    expect(worstExcess(atStart)).toBeLessThanOrEqual(SLACK);
    // the N - BURST logins past the burst need (N - BURST) / RATE seconds: not one burst
    const span = Math.max(...atStart) - Math.min(...atStart);
    expect(span).toBeGreaterThanOrEqual(((N - BURST - 1) / RATE) * 1000);

    // the server drops every session at once (as a restart does): the reconnects keep their
    // (tiny) backoff and take their turn at the host
    const before = (await dovecot.loginTimes()).length;
    await dovecot.kick();
    const relogged = async () => new Set((await dovecot.loginTimes()).slice(before).map((l) => l.user)).size === N;
    await waitFor(relogged, 20_000, 'every mailbox logged in again');
    for (const u of users) await dovecot.appendMany(u.user, [message(3)]);
    await waitFor(() => ticketStoreOf(daemon).stats().tickets === 3 * N, 30_000, 'the mail sent after the reconnects ingested');
    const again = (await dovecot.loginTimes()).slice(before).map((l) => l.at);
    console.log(JSON.stringify((await dovecot.loginTimes()).slice(before).map((l) => [l.user, Math.round(l.at - t0)])));
    expect(worstExcess(again)).toBeLessThanOrEqual(SLACK);
    expect(ticketStoreOf(daemon).stats().tickets).toBe(3 * N); // nothing doubled
  } finally {
    await daemon.stop();
  }
}, 90_000);
