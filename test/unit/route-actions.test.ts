// Route actions through decide(): set (merged over several routes), tags (union), fields (templates),
// hold, drop, deliver, stop; the mailbox's contract defaults when nothing matches; shared mailboxes
// by sender domain with the fallback company; a route switching company and contract.
import { describe, expect, it } from 'vitest';
import type { Route } from '../../src/config/types.generated.js';
import { decide, decideOwner, UNASSIGNED_COMPANY } from '../../src/ingest/decide.js';
import type { ParsedMessage } from '../../src/ingest/parsed-message.js';
import { evaluateRoutes } from '../../src/ingest/route.js';
import { renderTemplate } from '../../src/ingest/template.js';
import { stringify } from 'yaml';
import { loadFromSources } from '../../src/config/load.js';
import { BASE, ENV, mail, MONDAY_10_SP, snapshotOf } from '../fixtures/routing/support.js';

const run = (routes: Route[], mailboxId = 'desk', msg: Partial<ParsedMessage> = {}, now = MONDAY_10_SP) =>
  decide({ snap: snapshotOf({ routes }), mailboxId, parsed: mail(msg), now });

describe('no route matches: the mailbox contract decides', () => {
  it('company, contract and the contract ticket defaults', () => {
    const d = run([{ name: 'other-box', match: { mailbox: 'gdesk' }, set: { type: 'x' } }]);
    expect(d.matchedRoutes).toEqual([]);
    expect(d.ticket).toMatchObject({ company: 'acme', contract: 'main', prefix: 'ACME', status: 'open', type: 'incident', group: 'n1', priority: 'normal', tags: ['email'] });
    expect(d.ticket.fields).toBeUndefined();
    expect(d.deliver).toEqual(['store']);
    expect(d.drop).toBeNull();
    expect(d.threadTo).toBeNull();
  });

  it('without any routes at all', () => {
    const d = run([], 'gdesk');
    expect(d.ticket).toMatchObject({ company: 'globex', contract: 'gmain', prefix: 'GLX', type: 'question', group: 'g1', tags: ['globex'] });
    expect(d.ticket.priority).toBeUndefined();
  });
});

describe('set', () => {
  const routes: Route[] = [
    { name: 'billing', match: { subject: 'boleto' }, set: { type: 'billing', group: 'financeiro', tags: ['finance', 'email'] } },
    { name: 'urgent', match: { subject: 'urgente' }, set: { priority: 'high', tags: ['urgent', 'finance'] } },
    { name: 'vip-sender', match: { from: 'ceo@cliente.example' }, set: { group: 'vip-desk', tags: ['vip'] } },
  ];

  it('merges the sets of every matching route; later routes win for scalar fields; tags are a union', () => {
    const d = run(routes, 'desk', { subject: 'URGENTE: boleto', from: { name: 'CEO', address: 'ceo@cliente.example' } });
    expect(d.matchedRoutes).toEqual(['billing', 'urgent', 'vip-sender']);
    expect(d.ticket).toMatchObject({ company: 'acme', contract: 'main', type: 'billing', group: 'vip-desk', priority: 'high' });
    expect(d.ticket.tags).toEqual(['email', 'finance', 'urgent', 'vip']);
    expect(d.ticket.reasons.join('\n')).toContain('routes matched: billing, urgent, vip-sender');
  });

  it('fields a route does not set keep the contract defaults', () => {
    const d = run(routes, 'desk', { subject: 'urgente' });
    expect(d.matchedRoutes).toEqual(['urgent']);
    expect(d.ticket).toMatchObject({ type: 'incident', group: 'n1', priority: 'high', tags: ['email', 'urgent', 'finance'] });
  });

  it('set.contract uses that contract and its defaults', () => {
    const d = run([{ name: 'vip', match: { from: '@cliente.example' }, set: { contract: 'vip' } }]);
    expect(d.ticket).toMatchObject({ company: 'acme', contract: 'vip', type: 'request', group: 'vip' });
    expect(d.ticket.priority).toBeUndefined();
    expect(d.ticket.tags).toBeUndefined();
  });
});

describe('stop', () => {
  const routes: Route[] = [
    { name: 'first', match: { subject: 'printer' }, set: { group: 'hardware', tags: ['a'] } },
    { name: 'stopper', match: { from: '@cliente.example' }, set: { priority: 'low' }, stop: true },
    { name: 'never', match: {}, set: { group: 'never', tags: ['never'] }, hold: true },
  ];

  it('ends the evaluation at the first matching route with stop', () => {
    const d = run(routes);
    expect(d.matchedRoutes).toEqual(['first', 'stopper']);
    expect(d.ticket).toMatchObject({ group: 'hardware', priority: 'low', status: 'open', tags: ['email', 'a'] });
  });

  it('a stop route that does not match does not stop', () => {
    const d = run(routes, 'desk', { from: { name: '', address: 'x@other.example' } });
    expect(d.matchedRoutes).toEqual(['first', 'never']);
    expect(d.ticket).toMatchObject({ group: 'never', status: 'held' });
  });
});

describe('fields (templates)', () => {
  const msg: Partial<ParsedMessage> = {
    subject: 'Printer {{text}} offline',
    from: { name: 'Maria Souza', address: 'maria@cliente.example' },
    to: [{ name: '', address: 'suporte@acme.example' }, { name: '', address: 'ti@acme.example' }],
    cc: [{ name: '', address: 'joana@acme.example' }],
    text: 'Body with {{subject}} inside',
    headers: { 'x-foo': ['bar'], 'x-multi': ['one', 'two'] },
    messageId: 'abc@cliente.example',
  };
  const fields = {
    title: '{{subject}}',
    requester: '{{from.address}}',
    requesterName: '{{from.name}}',
    description: '{{text}}',
    foo: '{{header.X-Foo}}',
    fooLower: '{{ header.x-foo }}',
    multi: '{{header.X-Multi}}',
    recipients: '{{to}}',
    copies: '{{cc}}',
    mailbox: '{{mailbox}}',
    mid: '<{{messageId}}>',
    mixed: '[{{from.name}}] {{subject}} via {{mailbox}}',
    unknown: '{{nope}}',
    unknownHeader: '{{header.X-Missing}}',
    unknownSub: '{{from.phone}}',
    unknownSub2: '{{subject.length}}',
    notAHeader: '{{header.constructor}}{{header}}{{ticket.constructor}}',
    literal: 'no templates here',
    notATemplate: '{{ 1 }} {{}}',
  };

  it('renders mail fields onto ticket fields', () => {
    const d = run([{ name: 'map', match: { mailbox: 'desk' }, fields }], 'desk', msg);
    expect(d.ticket.fields).toEqual({
      title: 'Printer {{text}} offline',
      requester: 'maria@cliente.example',
      requesterName: 'Maria Souza',
      description: 'Body with {{subject}} inside',
      foo: 'bar',
      fooLower: 'bar',
      multi: 'one, two',
      recipients: 'suporte@acme.example, ti@acme.example',
      copies: 'joana@acme.example',
      mailbox: 'desk',
      mid: '<abc@cliente.example>',
      mixed: '[Maria Souza] Printer {{text}} offline via desk',
      unknown: '',
      unknownHeader: '',
      unknownSub: '',
      unknownSub2: '',
      notAHeader: '',
      literal: 'no templates here',
      notATemplate: '{{ 1 }} {{}}',
    });
  });

  it('a sender without a name or address renders empty', () => {
    const d = run([{ name: 'map', fields: { n: '{{from.name}}', a: '{{from.address}}' } }], 'desk', { from: null });
    expect(d.ticket.fields).toEqual({ n: '', a: '' });
  });

  it('a later route overrides the same field, other fields stay', () => {
    const d = run([
      { name: 'one', fields: { title: 'A {{subject}}', keep: 'k' } },
      { name: 'two', fields: { title: 'B {{from.address}}' } },
    ]);
    expect(d.ticket.fields).toEqual({ title: 'B maria@cliente.example', keep: 'k' });
  });

  it('ticket.* names render from the ticket context', () => {
    expect(renderTemplate('{{ticket.id}}/{{ticket.company}}/{{ticket.nope}}', { mailbox: 'desk', message: mail(), ticket: { id: 'ACME-000001', company: 'acme' } })).toBe('ACME-000001/acme/');
  });
});

describe('hold, drop, deliver', () => {
  it('hold: status held, with the reason', () => {
    const d = run([{ name: 'approve', match: { from: '@cliente.example' }, hold: true }]);
    expect(d.ticket.status).toBe('held');
    expect(d.ticket.reasons).toContain('a route holds it for approval');
  });

  it('a mailbox with inbound.hold holds every ticket', () => {
    const snap = snapshotOf({ mailboxes: { ...snapshotOf().config.mailboxes, desk: { inbound: { protocol: 'imap', host: 'h', hold: true }, auth: { user: 'u', password: '${PW}' } } } });
    const d = decide({ snap, mailboxId: 'desk', parsed: mail(), now: MONDAY_10_SP });
    expect(d.ticket.status).toBe('held');
  });

  it('drop: status dropped with the reason', () => {
    const d = run([{ name: 'spam', match: { subject: '/viagra|lottery/i' }, drop: 'spam filter' }], 'desk', { subject: 'You won the LOTTERY' });
    expect(d.ticket.status).toBe('dropped');
    expect(d.drop).toBe('spam filter');
    expect(d.ticket.reasons).toContain('dropped: spam filter');
  });

  it('drop wins over hold', () => {
    const d = run([
      { name: 'hold', hold: true },
      { name: 'drop', match: { subject: 'printer' }, drop: 'noise' },
    ]);
    expect(d.ticket.status).toBe('dropped');
  });

  it('a non-matching drop route drops nothing', () => {
    const d = run([{ name: 'spam', match: { subject: 'lottery' }, drop: 'spam' }]);
    expect(d.ticket.status).toBe('open');
    expect(d.drop).toBeNull();
  });

  it('deliver: the route list, store by default', () => {
    expect(run([{ name: 'erp', match: { subject: 'printer' }, deliver: ['store', 'webhook:erp'] }]).deliver).toEqual(['store', 'webhook:erp']);
    expect(run([{ name: 'erp-only', deliver: ['webhook:erp'] }]).deliver).toEqual(['webhook:erp']);
    expect(run([{ name: 'no', match: { subject: 'zzz' }, deliver: ['webhook:erp'] }]).deliver).toEqual(['store']);
  });

  it('evaluateRoutes returns a copy of deliver (the snapshot stays untouched)', () => {
    const snap = snapshotOf({ routes: [{ name: 'erp', deliver: ['webhook:erp'] }] });
    const out = evaluateRoutes(snap, 'desk', mail(), MONDAY_10_SP);
    out.deliver!.push('store');
    expect(snap.routes[0]!.deliver).toEqual(['webhook:erp']);
  });
});

describe('owner: shared mailbox by sender domain, fallback company', () => {
  const snap = snapshotOf();
  const from = (address: string) => mail({ from: { name: '', address } });

  it.each([
    ['ana@cliente.example', 'acme', 'main'],
    ['ana@acme.example', 'acme', 'main'],
    ['ana@sub.cliente.example', 'acme', 'main'],
    ['bob@globex.example', 'globex', 'gmain'], // domains in config are upper-case: compared case-insensitively
    ['bob@eu.globex.example', 'globex', 'gmain'],
    ['eve@notglobex.example', 'spill', 'triage'],
    ['eve@unknown.example', 'spill', 'triage'],
  ])('%s in the shared mailbox → %s / %s', (address, company, contract) => {
    const d = decide({ snap, mailboxId: 'shared', parsed: from(address), now: MONDAY_10_SP });
    expect({ company: d.ticket.company, contract: d.ticket.contract }).toEqual({ company, contract });
  });

  it('no sender address at all → fallback', () => {
    expect(decideOwner(snap, 'shared', { from: null })).toMatchObject({ company: 'spill', contract: 'triage' });
  });

  it('fallback uses the fallback company defaults and prefix', () => {
    const d = decide({ snap, mailboxId: 'shared', parsed: from('eve@unknown.example'), now: MONDAY_10_SP });
    expect(d.ticket).toMatchObject({ company: 'spill', prefix: 'SPILL', group: 'triage' });
    expect(d.ticket.reasons.join('\n')).toContain('fallback spill');
  });

  it('a shared mailbox without fallbackCompany is a config error (unclaimed mail must land somewhere)', () => {
    const text = stringify({ ...BASE, mailboxes: { ...BASE.mailboxes, shared: { inbound: { protocol: 'imap', host: 'h' }, auth: { user: 'u', password: '${PW}' } } } });
    const r = loadFromSources([{ name: 'x.yaml', absolute: '/x.yaml', text }], { env: ENV });
    expect(r.snapshot).toBeNull();
    expect(r.problems.map((p) => p.message).join('\n')).toMatch(/shared by companies acme, globex, spill: set inbound.fallbackCompany/);
  });

  it('a mailbox no contract reads → unassigned, never nowhere', () => {
    const d = decide({ snap, mailboxId: 'orphan', parsed: from('ana@cliente.example'), now: MONDAY_10_SP });
    expect(d.ticket.company).toBe(UNASSIGNED_COMPANY);
  });

  it('the most specific domain wins, whatever the order of the companies', () => {
    const companies = {
      ...BASE.companies,
      acme: { ...BASE.companies.acme, domains: ['example.com'] },
      globex: { ...BASE.companies.globex, domains: ['br.example.com'] },
    };
    const s = snapshotOf({ companies });
    expect(Object.keys(s.companies)[0]).toBe('acme'); // the broader domain's company comes first
    expect(decideOwner(s, 'shared', { from: { name: '', address: 'x@sp.br.example.com' } })).toMatchObject({ company: 'globex' });
    expect(decideOwner(s, 'shared', { from: { name: '', address: 'x@br.example.com' } })).toMatchObject({ company: 'globex' });
    expect(decideOwner(s, 'shared', { from: { name: '', address: 'x@us.example.com' } })).toMatchObject({ company: 'acme' });
  });

  it('a single-company mailbox ignores the sender domain', () => {
    expect(decideOwner(snap, 'desk', { from: { name: '', address: 'bob@globex.example' } })).toMatchObject({ company: 'acme', contract: 'main' });
  });
});

describe('route set.company switches company and contract', () => {
  it('to the contract of that company that reads the mailbox, with its defaults and prefix', () => {
    const d = run([{ name: 'to-globex', match: { subject: 'globex' }, set: { company: 'globex' } }], 'shared', { subject: 'About globex', from: { name: '', address: 'ana@cliente.example' } });
    expect(d.ticket).toMatchObject({ company: 'globex', contract: 'gmain', prefix: 'GLX', type: 'question', group: 'g1', tags: ['globex'] });
    expect(d.ticket.reasons).toContain('route set company globex');
  });

  it('with set.contract as well', () => {
    const d = run([{ name: 'to-acme-vip', match: { mailbox: 'gdesk' }, set: { company: 'acme', contract: 'vip', priority: 'p1' } }], 'gdesk');
    expect(d.ticket).toMatchObject({ company: 'acme', contract: 'vip', prefix: 'ACME', type: 'request', group: 'vip', priority: 'p1' });
  });

  it('setting the company the mailbox already belongs to changes nothing', () => {
    const d = run([{ name: 'same', set: { company: 'acme' } }]);
    expect(d.ticket).toMatchObject({ company: 'acme', contract: 'main', type: 'incident' });
  });

  it('the company set by a route is the one threading and the per-sender cap look at', () => {
    const seen: string[] = [];
    const d = decide({
      snap: snapshotOf({ routes: [{ name: 'to-globex', set: { company: 'globex' } }] }),
      mailboxId: 'shared',
      parsed: mail({ inReplyTo: ['q@x'], from: { name: '', address: 'ana@cliente.example' } }),
      now: MONDAY_10_SP,
      lookups: { findByMessageIds: (c) => (seen.push(c), null), findTicket: () => null },
    });
    expect(seen).toEqual(['globex']);
    expect(d.ticket.company).toBe('globex');
  });
});
