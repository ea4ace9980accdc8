// Outbound layering: a layer that names a mailbox replaces the server and identity below it (host,
// port, security, auth, from) as one unit, while the sending policy (timeout, batchWindow,
// maxPerMinute, maxConnections) keeps coming field by field from the layers below unless the mailbox
// sets it. Before, a contract's mailbox took every unset field from the built-in defaults, so
// `defaults.outbound.batchWindow: 2s`, `maxPerMinute` and a company's `timeout: 90s` silently stopped.
import { describe, expect, it } from 'vitest';
import { explainOutbound, formatExplanation } from '../../src/config/explain.js';
import { loadFromSources } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { resolveSender } from '../../src/outbound/resolve.js';
import { schemaDefault } from '../../src/config/schema-defaults.js';

const CONFIG = `version: 1
defaults:
  outbound:
    host: smtp.default.example
    auth: { user: notify@platform.example, passwordFile: /run/secrets/default }
    from: { name: Platform, address: notify@platform.example }
    batchWindow: 2s
    maxPerMinute: 600
companies:
  acme:
    outbound: { timeout: 90s }
    contracts:
      k: { outbound: desk }
      k2: { outbound: capped }
  off:
    contracts:
      k: { outbound: sleeping }
mailboxes:
  desk:
    auth: { user: desk@acme.example, passwordFile: /run/secrets/desk }
    outbound: { host: smtp.acme.example, port: 465, security: tls, from: { name: ACME, address: desk@acme.example } }
  capped:
    auth: { user: capped@acme.example, passwordFile: /run/secrets/capped }
    outbound: { host: smtp.acme.example, maxPerMinute: 10, batchWindow: 0s }
  sleeping:
    enabled: false
    auth: { user: s@off.example, passwordFile: /run/secrets/s }
    outbound: { host: smtp.off.example }
`;

async function loadConfigFromText(text: string): Promise<Snapshot> {
  const r = loadFromSources([{ name: 'mem.yaml', absolute: '/mem.yaml', text }], { env: {} });
  expect(r.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  return r.snapshot!;
}

describe('outbound: server and identity from the mailbox, sending policy inherited', () => {
  it('a contract mailbox keeps the company timeout and the global batchWindow / maxPerMinute', async () => {
    const snap = await loadConfigFromText(CONFIG);
    const r = resolveSender(snap, { company: 'acme', contract: 'k' });
    expect(r.decision.mailbox).toBe('desk');
    expect(r.server).toMatchObject({ host: 'smtp.acme.example', port: 465, security: 'tls', auth: { user: 'desk@acme.example' }, from: { address: 'desk@acme.example' } });
    expect(r.server).toMatchObject({ timeoutMs: 90_000, batchWindowMs: 2_000, maxPerMinute: 600, maxConnections: schemaDefault('OutboundFields', 'maxConnections') });
    const fields = Object.fromEntries(explainOutbound(snap, { company: 'acme', contract: 'k' }).fields.map((f) => [f.field, `${f.value} @ ${f.layer}`]));
    expect(fields).toMatchObject({ timeout: '90s @ company acme', batchWindow: '2s @ global default', maxPerMinute: '600 @ global default', host: 'smtp.acme.example @ mailbox desk (contract k)', 'auth.user': 'desk@acme.example @ mailbox desk (contract k)' });
    // never the credentials of the layer below
    expect(fields['auth.passwordFile']).toBe('/run/secrets/desk @ mailbox desk (contract k)');
  });

  it("the mailbox's own policy wins field by field", async () => {
    const snap = await loadConfigFromText(CONFIG);
    expect(resolveSender(snap, { company: 'acme', contract: 'k2' }).server).toMatchObject({ maxPerMinute: 10, batchWindowMs: 0, timeoutMs: 90_000 });
  });

  it('explain states the rule, and says when the chosen mailbox is disabled', async () => {
    const snap = await loadConfigFromText(CONFIG);
    const text = formatExplanation(explainOutbound(snap, { company: 'acme', contract: 'k' }));
    expect(text).toContain('· contract k → mailbox desk (server and identity; keeps timeout, batchWindow, maxPerMinute from below)');
    expect(text).toContain('rule: a layer that names a mailbox replaces the server and identity below it');
    expect(text).not.toContain('DISABLED');
    expect(formatExplanation(explainOutbound(snap, { company: 'off', contract: 'k' }))).toContain('= sends through mailbox sleeping — which is DISABLED (enabled: false)');
  });

  it('built-in defaults are the schema defaults', async () => {
    const snap = await loadConfigFromText('version: 1\ndefaults:\n  outbound: { host: smtp.x.example }\n');
    const f = Object.fromEntries(explainOutbound(snap, {}).fields.map((x) => [x.field, `${x.value} @ ${x.layer}`]));
    expect(f).toMatchObject({ security: 'starttls @ built-in default', port: '587 @ built-in default', timeout: '180s @ built-in default', batchWindow: '0s @ built-in default', maxConnections: '5 @ built-in default', sendAs: 'mailbox @ built-in default', verifyCertificate: 'true @ built-in default' });
  });
});
