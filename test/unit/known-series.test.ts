// Which label sets are exported at 0 (knownSeries, pure) and how a sync keeps them in step with the
// config: new ids get zero series, removed ids lose theirs, counts that exist are never reset.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { knownSeries, syncKnownSeries } from '../../src/observability/known-series.js';
import { createMetrics } from '../../src/observability/metrics.js';

const smtp = { host: 'smtp.example.com', port: 587, security: 'starttls' };

async function snapshot(mailboxes: Record<string, unknown>, companies: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-known-'));
  writeFileSync(join(dir, 'mailroom.yaml'), stringify({ version: 1, store: { path: join(dir, 'data') }, defaults: { outbound: { ...smtp, from: { address: 'no-reply@example.com' } } }, companies, mailboxes }));
  const r = await loadConfig(dir, { skipEnv: true });
  expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
  return r.snapshot!;
}

const imap = { protocol: 'imap', host: 'imap.example.com' };
const auth = { user: 'u', passwordFile: '/run/secrets/x' };

describe('knownSeries', () => {
  it('enabled inbound mailboxes; senders: sending mailboxes, default, and a company with a server of its own', async () => {
    const snap = await snapshot(
      {
        desk: { inbound: imap, auth, outbound: smtp, address: 'desk@a.example' },
        off: { enabled: false, inbound: imap, auth },
        sender: { address: 's@a.example', outbound: smtp },
      },
      { a: { contracts: { main: { inbound: ['desk', 'off'] } } }, own: { outbound: { host: 'smtp.own.example', port: 25, security: 'none' } }, plain: { outbound: { from: { name: 'Plain' } } } },
    );
    expect(knownSeries(snap)).toEqual({ inbound: ['desk'], outbound: ['company:own', 'default', 'desk', 'sender'], webhooks: [] });
  });
});

describe('syncKnownSeries', () => {
  it('zeroes new ids only, removes removed ones, and never resets a count', async () => {
    const m = createMetrics();
    const one = await snapshot({ desk: { inbound: imap, auth }, other: { inbound: imap, auth } }, { a: { contracts: { main: { inbound: ['desk', 'other'] } } } });
    syncKnownSeries(m, one);
    m.ingestLag.observe({ mailbox: 'desk' }, 2);
    m.ingestErrors.inc({ mailbox: 'desk', class: 'auth' });
    // desk disabled, other removed
    const two = await snapshot({ desk: { enabled: false, inbound: imap, auth } }, { a: { contracts: { main: { inbound: ['desk'] } } } });
    syncKnownSeries(m, two);
    // desk enabled again: its counts are still there
    syncKnownSeries(m, one);
    const text = await m.registry.metrics();
    expect(text).toContain('mailroom_ingest_lag_seconds_count{mailbox="desk"} 1');
    expect(text).toContain('mailroom_ingest_errors_total{mailbox="desk",class="auth"} 1');
    expect(text).toContain('mailroom_ingest_errors_total{mailbox="other",class="auth"} 0');
    syncKnownSeries(m, two);
    expect(await m.registry.metrics()).not.toContain('mailbox="other"');
  });
});
