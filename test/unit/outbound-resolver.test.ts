// The outbound resolver, as a table: every layer (explicit mailbox → workflow → contract → company
// (after extends) → global default) for both kinds, and `mailroom explain` agreeing with the sender
// row by row (both read decideOutbound; this proves nothing drifted in between).
import { describe, expect, it } from 'vitest';
import { explainOutbound } from '../../src/config/explain.js';
import { loadFromSources } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { identities } from '../../src/outbound/compose.js';
import { effectiveTimeout, resolveSender, serverFromFields, transportKey, type OutboundRequest } from '../../src/outbound/resolve.js';
import { decideOutbound } from '../../src/config/outbound-layers.js';

const YAML = `
version: 1
defaults:
  outbound:
    host: smtp.platform.example
    port: 587
    security: starttls
    from: { name: Platform, address: noreply@platform.example }
    auth: { user: noreply@platform.example, passwordFile: /run/secrets/platform }
workflows:
  approval: { outbound: contract }
  reset: { outbound: default }
  billing: { outbound: billing-box }
companies:
  hq:
    name: HQ
    outbound: { mailbox: hq-box }
    contracts:
      main: { outbound: hq-contract-box }
      plain: {}
  branch:
    extends: hq
    outbound: { from: { name: HQ Branch Office } }
    contracts:
      local: { outbound: branch-box }
      none: {}
  solo:
    outbound: { from: { name: Solo Ltd } }
    contracts: { c1: {} }
  bare:
    contracts: { c1: {} }
  own:
    outbound: { host: smtp.own-isp.example, port: 2587, auth: { user: own@own.example, passwordFile: /run/secrets/own } }
    contracts: { c1: {} }
  partner:
    outbound: { host: smtp.partner-isp.example, port: 587 }
mailboxes:
  hq-box:
    address: desk@hq.example
    auth: { user: desk@hq.example, passwordFile: /run/secrets/hq }
    outbound: { host: smtp.hq.example, security: tls, from: { name: HQ Desk, address: desk@hq.example } }
  hq-contract-box:
    address: contract@hq.example
    auth: { user: contract@hq.example, passwordFile: /run/secrets/hqc }
    outbound: { host: smtp.hq.example, port: 2525, sendAs: user, from: { name: HQ Contract, address: contract@hq.example } }
  branch-box:
    provider: gmail
    address: branch@branch.example
    auth: { user: branch@branch.example, passwordFile: /run/secrets/branch }
    outbound: { from: { name: Branch, address: branch@branch.example } }
  billing-box:
    address: billing@platform.example
    outbound: { host: smtp.billing.example, maxPerMinute: 30, batchWindow: 2s, timeout: 30s, from: { address: billing@platform.example } }
`;

function snapshot(text = YAML): Snapshot {
  const r = loadFromSources([{ name: 'mem.yaml', absolute: '/mem.yaml', text }], { env: {} });
  expect(r.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  return r.snapshot!;
}

const snap = snapshot();

interface Row {
  name: string;
  req: OutboundRequest;
  mailbox: string | null;
  host: string;
  port: number;
  from: string;
  fromName: string;
  sendAs?: 'user' | 'mailbox';
}

const rows: Row[] = [
  // global default
  { name: 'no company: global default', req: { kind: 'user' }, mailbox: null, host: 'smtp.platform.example', port: 587, from: 'noreply@platform.example', fromName: 'Platform' },
  { name: 'company without override, user mail: global default', req: { company: 'bare', contract: 'c1', kind: 'user' }, mailbox: null, host: 'smtp.platform.example', port: 587, from: 'noreply@platform.example', fromName: 'Platform' },
  { name: 'company without override, system mail: global default', req: { company: 'bare', kind: 'system' }, mailbox: null, host: 'smtp.platform.example', port: 587, from: 'noreply@platform.example', fromName: 'Platform' },
  // company override: field overrides on the global default
  { name: 'company field override (from.name) on the global default', req: { company: 'solo', contract: 'c1', kind: 'user' }, mailbox: null, host: 'smtp.platform.example', port: 587, from: 'noreply@platform.example', fromName: 'Solo Ltd' },
  { name: 'system mail: the company override applies too', req: { company: 'solo', kind: 'system' }, mailbox: null, host: 'smtp.platform.example', port: 587, from: 'noreply@platform.example', fromName: 'Solo Ltd' },
  // company override: a mailbox
  { name: 'company mailbox, contract without outbound', req: { company: 'hq', contract: 'plain', kind: 'user' }, mailbox: 'hq-box', host: 'smtp.hq.example', port: 465, from: 'desk@hq.example', fromName: 'HQ Desk' },
  { name: 'system mail of a company with a mailbox override: that mailbox', req: { company: 'hq', contract: 'main', kind: 'system' }, mailbox: 'hq-box', host: 'smtp.hq.example', port: 465, from: 'desk@hq.example', fromName: 'HQ Desk' },
  // extends: the branch inherits HQ's mailbox, changing only the sender name
  { name: 'branch inherits the HQ mailbox with its own sender name', req: { company: 'branch', contract: 'none', kind: 'user' }, mailbox: 'hq-box', host: 'smtp.hq.example', port: 465, from: 'desk@hq.example', fromName: 'HQ Branch Office' },
  { name: 'branch system mail: inherited mailbox, own name', req: { company: 'branch', kind: 'system' }, mailbox: 'hq-box', host: 'smtp.hq.example', port: 465, from: 'desk@hq.example', fromName: 'HQ Branch Office' },
  // contract
  { name: 'contract mailbox wins over the company', req: { company: 'hq', contract: 'main', kind: 'user' }, mailbox: 'hq-contract-box', host: 'smtp.hq.example', port: 2525, from: 'contract@hq.example', fromName: 'HQ Contract', sendAs: 'user' },
  { name: 'contract mailbox from a provider preset (gmail: 465 tls)', req: { company: 'branch', contract: 'local', kind: 'user' }, mailbox: 'branch-box', host: 'smtp.gmail.com', port: 465, from: 'branch@branch.example', fromName: 'Branch' },
  // workflow
  { name: 'workflow outbound: contract', req: { company: 'hq', contract: 'main', workflow: 'approval', kind: 'user' }, mailbox: 'hq-contract-box', host: 'smtp.hq.example', port: 2525, from: 'contract@hq.example', fromName: 'HQ Contract', sendAs: 'user' },
  { name: 'workflow outbound: contract, contract has none: the layer below', req: { company: 'hq', contract: 'plain', workflow: 'approval', kind: 'user' }, mailbox: 'hq-box', host: 'smtp.hq.example', port: 465, from: 'desk@hq.example', fromName: 'HQ Desk' },
  { name: 'workflow outbound: default overrides the contract', req: { company: 'hq', contract: 'main', workflow: 'reset', kind: 'user' }, mailbox: null, host: 'smtp.platform.example', port: 587, from: 'noreply@platform.example', fromName: 'Platform' },
  { name: 'workflow outbound: a mailbox id overrides the contract', req: { company: 'hq', contract: 'main', workflow: 'billing', kind: 'user' }, mailbox: 'billing-box', host: 'smtp.billing.example', port: 587, from: 'billing@platform.example', fromName: '' },
  { name: 'system mail skips the workflow mailbox', req: { company: 'hq', contract: 'main', workflow: 'billing', kind: 'system' }, mailbox: 'hq-box', host: 'smtp.hq.example', port: 465, from: 'desk@hq.example', fromName: 'HQ Desk' },
  // explicit mailbox
  { name: 'explicit mailbox wins over everything (user)', req: { company: 'hq', contract: 'main', workflow: 'billing', mailbox: 'branch-box', kind: 'user' }, mailbox: 'branch-box', host: 'smtp.gmail.com', port: 465, from: 'branch@branch.example', fromName: 'Branch' },
  { name: 'explicit mailbox wins for system mail too', req: { company: 'bare', mailbox: 'billing-box', kind: 'system' }, mailbox: 'billing-box', host: 'smtp.billing.example', port: 587, from: 'billing@platform.example', fromName: '' },
];

describe('resolver: the label a send is counted and suspended under', () => {
  it('a company server given by field overrides is company:<id>, not the global default', () => {
    const r = resolveSender(snap, { company: 'own', contract: 'c1', kind: 'user' });
    expect(r.decision.mailbox).toBeNull();
    expect(r.server!.host).toBe('smtp.own-isp.example');
    expect(r.label).toBe('company:own');
  });
  it("a company pointing at another host without auth does not get the global default's credentials", () => {
    const d = decideOutbound(snap.config, snap.locations, { company: 'partner', kind: 'user' });
    expect(d.fields.get('host')?.value).toBe('smtp.partner-isp.example');
    expect([...d.fields.keys()].filter((f) => f.startsWith('auth.'))).toEqual([]);
    expect(d.trail.join('\n')).toMatch(/another host without auth/);
    // its own auth is kept
    const own = decideOutbound(snap.config, snap.locations, { company: 'own', kind: 'user' });
    expect(own.fields.get('auth.user')?.value).toBe('own@own.example');
  });
  it('field overrides that keep the global server (a sender name) stay default; a mailbox is its id', () => {
    expect(resolveSender(snap, { company: 'solo', contract: 'c1', kind: 'user' }).label).toBe('default');
    expect(resolveSender(snap, { company: 'hq', contract: 'plain', kind: 'user' }).label).toBe('hq-box');
  });
});

describe('resolver: every layer, both kinds', () => {
  it.each(rows)('$name', (row) => {
    const r = resolveSender(snap, row.req);
    expect(r.decision.mailbox).toBe(row.mailbox);
    expect(r.label).toBe(row.mailbox ?? 'default');
    expect(r.server).not.toBeNull();
    expect({ host: r.server!.host, port: r.server!.port, from: r.server!.from.address, fromName: r.server!.from.name, sendAs: r.server!.sendAs }).toEqual({
      host: row.host,
      port: row.port,
      from: row.from,
      fromName: row.fromName,
      sendAs: row.sendAs ?? 'mailbox',
    });
  });

  it('covers every layer and both kinds', () => {
    const layers = new Set(rows.flatMap((r) => resolveSender(snap, r.req).decision.trail.map((t) => t.split(' ')[0])));
    for (const l of ['global', 'company', 'contract', 'workflow', 'explicit', 'kind:']) expect(layers).toContain(l);
    expect(new Set(rows.map((r) => r.req.kind))).toEqual(new Set(['user', 'system']));
  });

  it.each(rows)('explain agrees with the sender: $name', (row) => {
    const e = explainOutbound(snap, row.req);
    const r = resolveSender(snap, row.req);
    expect(e.result).toBe(r.decision.mailbox ? `sends through mailbox ${r.decision.mailbox}` : 'sends through the global default server');
    expect(e.trail).toEqual(r.decision.trail);
    const field = (n: string) => e.fields.find((f) => f.field === n)?.value;
    expect(field('host')).toBe(r.server!.host);
    expect(Number(field('port'))).toBe(r.server!.port);
    expect(field('from.address')).toBe(r.server!.from.address);
    expect(field('from.name') ?? '').toBe(r.server!.from.name);
    expect(field('sendAs')).toBe(r.server!.sendAs);
  });

  it('converts fields exactly as the snapshot does for mailboxes and the global default (no drift)', () => {
    for (const id of Object.keys(snap.mailboxes)) {
      const own = serverFromFields(decideOutbound(snap.config, snap.locations, { mailbox: id }).fields, id, snap);
      expect(own).toEqual(snap.mailboxes[id]!.outbound);
    }
    expect(serverFromFields(decideOutbound(snap.config, snap.locations, {}).fields, null, snap)).toEqual(snap.defaultOutbound);
  });

  it('carries batchWindow, maxPerMinute and timeout; the timeout defaults to 180 s and is never under 10 s', () => {
    const billing = resolveSender(snap, { mailbox: 'billing-box', kind: 'user' }).server!;
    expect({ batch: billing.batchWindowMs, rate: billing.maxPerMinute, timeout: billing.timeoutMs }).toEqual({ batch: 2000, rate: 30, timeout: 30_000 });
    expect(resolveSender(snap, { kind: 'user' }).server!.timeoutMs).toBe(180_000);
    expect([effectiveTimeout(1000), effectiveTimeout(0), effectiveTimeout(NaN), effectiveTimeout(60_000)]).toEqual([10_000, 180_000, 180_000, 60_000]);
  });

  it('no global default and no override: nothing can send', () => {
    const s = snapshot('version: 1\ncompanies: { a: { contracts: { c: {} } } }\n');
    expect(resolveSender(s, { company: 'a', contract: 'c', kind: 'user' }).server).toBeNull();
  });

  it('one pool per mailbox and server settings, whatever the sender name', () => {
    const a = resolveSender(snap, { company: 'hq', contract: 'plain', kind: 'user' });
    const b = resolveSender(snap, { company: 'branch', contract: 'none', kind: 'user' });
    expect(a.server!.from.name).not.toBe(b.server!.from.name);
    expect(transportKey(a.label, a.server!)).toBe(transportKey(b.label, b.server!));
    const c = resolveSender(snap, { company: 'hq', contract: 'main', kind: 'user' });
    expect(transportKey(c.label, c.server!)).not.toBe(transportKey(a.label, a.server!));
  });

  it('a changed inline password gives a new pool key, and the key never contains the password', () => {
    const text = (pw: string) => `version: 1\ndefaults: { outbound: { host: smtp.x.example, auth: { user: u@x.example, password: "${'$'}{PW}" }, from: { address: u@x.example } } }\n`;
    const load = (pw: string) => loadFromSources([{ name: 'm.yaml', absolute: '/m.yaml', text: text(pw) }], { env: { PW: pw } }).snapshot!;
    const k1 = transportKey('default', resolveSender(load('first-Passw0rd'), { kind: 'system' }).server!);
    const k2 = transportKey('default', resolveSender(load('second-Passw0rd'), { kind: 'system' }).server!);
    expect(k1).not.toBe(k2);
    expect(k1 + k2).not.toMatch(/Passw0rd/);
  });
});

describe('identity per kind and sendAs', () => {
  const person = { name: 'Ana Agent', address: 'ana@hq.example' };
  it('sendAs: mailbox (default): From is the mailbox, Reply-To the person', () => {
    const s = resolveSender(snap, { company: 'hq', contract: 'plain', kind: 'user' }).server!;
    expect(identities(s, 'user', person)).toEqual({ from: { name: 'HQ Desk', address: 'desk@hq.example' }, sender: null, replyTo: person, envelopeFrom: 'desk@hq.example' });
  });
  it('sendAs: user: From is the person, Sender the mailbox; the envelope stays the mailbox', () => {
    const s = resolveSender(snap, { company: 'hq', contract: 'main', kind: 'user' }).server!;
    expect(identities(s, 'user', person)).toEqual({ from: person, sender: { name: 'HQ Contract', address: 'contract@hq.example' }, replyTo: null, envelopeFrom: 'contract@hq.example' });
  });
  it('system mail: the sender alone, no person', () => {
    const s = resolveSender(snap, { company: 'bare', kind: 'system' }).server!;
    expect(identities(s, 'system', null)).toEqual({ from: { name: 'Platform', address: 'noreply@platform.example' }, sender: null, replyTo: null, envelopeFrom: 'noreply@platform.example' });
  });
});
