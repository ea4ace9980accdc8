// Labelled counters are exported at 0 from the start for every label set the config names, so
// Prometheus' rate()/increase() see the first event (one failed message fires
// MailroomOutboxFailures). Scrapes a fresh daemon's /metrics, then reloads a changed config: a new
// mailbox or webhook gets its zero series, a removed one's series go.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { COUNTED_FLAGS } from '../../src/ingest/ingest-report.js';
import { INGEST_ERROR_CLASSES, OUTBOUND_RESULTS, RELOAD_RESULTS, WEBHOOK_RESULTS } from '../../src/observability/known-series.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { writeTestConfig } from '../support/daemon-config.js';

const TOKEN = 'zero-series-test-token-0123456789';
let dovecot: Dovecot;
let daemon: Daemon;
let cfg: { dir: string };
let base: string;

/** The scrape as `name{labels} value` lines, comments dropped. */
async function scrape(): Promise<string[]> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.text()).split('\n').filter((l) => l.startsWith('mailroom_'));
}

/** The value of one series in a scrape, or undefined when it is absent. */
function value(lines: string[], series: string): number | undefined {
  const line = lines.find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function editConfig(fn: (c: Record<string, any>) => void): Promise<void> {
  const file = join(cfg.dir, 'mailroom.yaml');
  const c = parse(await readFile(file, 'utf8')) as Record<string, any>;
  fn(c);
  await writeFile(file, stringify(c));
}

beforeAll(async () => {
  dovecot = await startDovecot();
  cfg = await writeTestConfig(dovecot, [
    { id: 'desk', user: 'alice', protocol: 'imap', inbound: { idle: false, pollInterval: '60s' } },
    { id: 'old-pop', user: 'bob', protocol: 'pop3', inbound: { pollInterval: '60s' } },
  ], {
    server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: TOKEN, companies: ['*'] }] },
    defaults: { outbound: { host: '127.0.0.1', port: 2525, security: 'none', from: { address: 'noreply@acme.example' } } },
    webhooks: { erp: { url: 'http://127.0.0.1:9/hook', secret: 'zero-series-webhook-secret' } },
  });
  await editConfig((c) => {
    c.mailboxes['old-pop'].enabled = false;
    c.mailboxes.sender = { address: 'desk@acme.example', outbound: { host: '127.0.0.1', port: 2526, security: 'none' } };
  });
  daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  base = `http://127.0.0.1:${daemon.http.address()!.port}`;
});

afterAll(async () => {
  await daemon?.stop();
  await dovecot?.destroy();
});

describe('zero series', () => {
  it('a fresh daemon exports every known label set of every labelled counter at 0', async () => {
    const m = await scrape();
    for (const result of RELOAD_RESULTS) expect(value(m, `mailroom_config_reloads_total{result="${result}"}`), result).toBe(0);
    // the store answered at start: up from the first scrape (0 while unreachable)
    expect(value(m, 'mailroom_store_up')).toBe(1);
    // inbound counters of the enabled inbound mailbox
    expect(value(m, 'mailroom_messages_ingested_total{mailbox="desk"}')).toBe(0);
    for (const cls of INGEST_ERROR_CLASSES) expect(value(m, `mailroom_ingest_errors_total{mailbox="desk",class="${cls}"}`), cls).toBe(0);
    for (const flag of COUNTED_FLAGS) expect(value(m, `mailroom_messages_flagged_total{mailbox="desk",flag="${flag}"}`), flag).toBe(0);
    expect(value(m, 'mailroom_ingest_lag_seconds_count{mailbox="desk"}')).toBe(0);
    expect(value(m, 'mailroom_ingest_lag_seconds_bucket{le="+Inf",mailbox="desk"}')).toBe(0);
    // outbound: the outbound-only mailbox and the global default, every result
    for (const mailbox of ['sender', 'default']) {
      for (const result of OUTBOUND_RESULTS) expect(value(m, `mailroom_outbound_sent_total{mailbox="${mailbox}",result="${result}"}`), `${mailbox} ${result}`).toBe(0);
    }
    for (const result of WEBHOOK_RESULTS) expect(value(m, `mailroom_webhook_deliveries_total{webhook="erp",result="${result}"}`), result).toBe(0);
    // a disabled mailbox reads and sends nothing: no series for it
    expect(m.filter((l) => l.includes('mailbox="old-pop"'))).toEqual([]);
    // the inbound-only mailbox does not send
    expect(m.filter((l) => l.startsWith('mailroom_outbound_sent_total{mailbox="desk"'))).toEqual([]);
  });

  it('counts stay as they are when a reload re-applies the series', async () => {
    daemon.metrics.outboundSent.inc({ mailbox: 'sender', result: 'failed' });
    daemon.metrics.ingestLag.observe({ mailbox: 'desk' }, 3);
    await editConfig((c) => (c.mailboxes.sender.description = 'changed'));
    expect((await daemon.reload('manual')).status).toBe('applied');
    const m = await scrape();
    expect(value(m, 'mailroom_outbound_sent_total{mailbox="sender",result="failed"}')).toBe(1);
    expect(value(m, 'mailroom_ingest_lag_seconds_count{mailbox="desk"}')).toBe(1);
    expect(value(m, 'mailroom_config_reloads_total{result="success"}')).toBe(1);
  });

  it('a reload gives a new mailbox and webhook their zero series and removes those of removed ones', async () => {
    await editConfig((c) => {
      c.mailboxes['old-pop'].enabled = true;
      delete c.mailboxes.sender;
      c.webhooks = { crm: { url: 'http://127.0.0.1:9/crm', secret: 'zero-series-webhook-secret' } };
    });
    expect((await daemon.reload('manual')).status).toBe('applied');
    const m = await scrape();
    expect(value(m, 'mailroom_messages_ingested_total{mailbox="old-pop"}')).toBe(0);
    expect(value(m, 'mailroom_ingest_errors_total{mailbox="old-pop",class="auth"}')).toBe(0);
    expect(value(m, 'mailroom_webhook_deliveries_total{webhook="crm",result="retry"}')).toBe(0);
    expect(m.filter((l) => l.includes('mailbox="sender"'))).toEqual([]);
    expect(m.filter((l) => l.includes('webhook="erp"'))).toEqual([]);
    expect(value(m, 'mailroom_outbound_sent_total{mailbox="default",result="failed"}')).toBe(0);
  });
});
