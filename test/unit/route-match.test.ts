// Route matching, one table row per condition: every match field, its edge cases, and combinations
// (all conditions must hold). Routes go through the real loader, so each row is also a valid config.
import { describe, expect, it } from 'vitest';
import type { Route, RouteMatch } from '../../src/config/types.generated.js';
import type { ParsedMessage } from '../../src/ingest/parsed-message.js';
import { evaluateRoutes, ROUTE_BODY_LIMIT, ROUTE_HEADER_LIMIT, routeMatches } from '../../src/ingest/route.js';
import { attachment, mail, MONDAY_10_SP, MONDAY_20_SP, snapshotOf } from '../fixtures/routing/support.js';

interface Row {
  name: string;
  match: RouteMatch;
  msg?: Partial<ParsedMessage>;
  mailbox?: string;
  at?: Date;
  want: boolean;
}

const addr = (address: string, name = '') => ({ name, address });
const inline = attachment({ filename: 'logo.png', contentType: 'image/png', inline: true, contentId: 'logo@x' });

const rows: Row[] = [
  // --- mailbox: one id or a list
  { name: 'mailbox: same id', match: { mailbox: 'desk' }, want: true },
  { name: 'mailbox: other id', match: { mailbox: 'desk' }, mailbox: 'gdesk', want: false },
  { name: 'mailbox list: member', match: { mailbox: ['desk', 'gdesk'] }, mailbox: 'gdesk', want: true },
  { name: 'mailbox list: not a member', match: { mailbox: ['desk', 'gdesk'] }, mailbox: 'shared', want: false },
  { name: 'empty match: every message', match: {}, want: true },

  // --- from: exact address, @domain (incl. subdomains), /regex/, substring
  { name: 'from exact', match: { from: 'maria@cliente.example' }, want: true },
  { name: 'from exact, case differs', match: { from: 'MARIA@Cliente.Example' }, msg: { from: addr('Maria@cliente.example') }, want: true },
  { name: 'from exact is not a substring match', match: { from: 'maria@cliente.example' }, msg: { from: addr('ana.maria@cliente.example') }, want: false },
  { name: 'from exact vs longer domain', match: { from: 'maria@cliente.example' }, msg: { from: addr('maria@cliente.example.net') }, want: false },
  { name: 'from @domain', match: { from: '@cliente.example' }, msg: { from: addr('ana@cliente.example') }, want: true },
  { name: 'from @domain, subdomain', match: { from: '@cliente.example' }, msg: { from: addr('ana@mail.cliente.example') }, want: true },
  { name: 'from @domain, deeper subdomain', match: { from: '@cliente.example' }, msg: { from: addr('ana@a.b.cliente.example') }, want: true },
  { name: 'from @domain, look-alike domain', match: { from: '@cliente.example' }, msg: { from: addr('ana@notcliente.example') }, want: false },
  { name: 'from @domain, domain as prefix', match: { from: '@cliente.example' }, msg: { from: addr('ana@cliente.example.br') }, want: false },
  { name: 'from @domain, upper-case pattern', match: { from: '@CLIENTE.example' }, want: true },
  { name: 'from /regex/ matches', match: { from: '/^(ana|maria)@/' }, want: true },
  { name: 'from /regex/ no match', match: { from: '/^(ana|maria)@/' }, msg: { from: addr('joao@cliente.example') }, want: false },
  { name: 'from plain substring', match: { from: 'cliente' }, want: true },
  { name: 'from set, message has no sender', match: { from: '@cliente.example' }, msg: { from: null }, want: false },

  // --- to / cc: any recipient
  { name: 'to: any recipient, @domain', match: { to: '@acme.example' }, msg: { to: [addr('x@other.example'), addr('suporte@acme.example')] }, want: true },
  { name: 'to exact', match: { to: 'suporte@acme.example' }, want: true },
  { name: 'to: no recipient matches', match: { to: 'financeiro@acme.example' }, want: false },
  { name: 'to: a Cc recipient does not count', match: { to: 'financeiro@acme.example' }, msg: { cc: [addr('financeiro@acme.example')] }, want: false },
  { name: 'cc exact', match: { cc: 'financeiro@acme.example' }, msg: { cc: [addr('joana@acme.example'), addr('financeiro@acme.example')] }, want: true },
  { name: 'cc @domain subdomain', match: { cc: '@acme.example' }, msg: { cc: [addr('joana@br.acme.example')] }, want: true },
  { name: 'cc /regex/', match: { cc: '/^fin/' }, msg: { cc: [addr('financeiro@acme.example')] }, want: true },
  { name: 'cc: no Cc at all', match: { cc: '@acme.example' }, want: false },

  // --- subject: case-insensitive substring or /regex/flags
  { name: 'subject substring, other case', match: { subject: 'PRINTER' }, want: true },
  { name: 'subject substring, absent', match: { subject: 'scanner' }, want: false },
  { name: 'subject /regex/i', match: { subject: '/nota fiscal|boleto/i' }, msg: { subject: 'BOLETO vencido' }, want: true },
  { name: 'subject /regex/ without i is case-sensitive', match: { subject: '/^re:/' }, msg: { subject: 'RE: hello' }, want: false },
  { name: 'subject /regex/i anchored', match: { subject: '/^re:/i' }, msg: { subject: 'RE: hello' }, want: true },
  { name: 'subject /regex/ with accents', match: { subject: '/solicitação/i' }, msg: { subject: 'Nova SOLICITAÇÃO de acesso' }, want: true },
  { name: 'subject substring on an empty subject', match: { subject: 'x' }, msg: { subject: '' }, want: false },

  // --- body (plain text)
  { name: 'body substring', match: { body: 'offline' }, want: true },
  { name: 'body substring, other case', match: { body: 'SINCE THIS MORNING' }, want: true },
  { name: 'body /regex/', match: { body: '/HP-\\d+F-\\d+/' }, want: true },
  { name: 'body no match', match: { body: 'invoice' }, want: false },
  { name: 'body does not look at the subject', match: { body: 'Printer on 3rd' }, want: false },

  // --- header: name case-insensitive, the header must exist and match
  { name: 'header substring', match: { header: { 'X-Priority': '1' } }, msg: { headers: { 'x-priority': ['1 (Highest)'] } }, want: true },
  { name: 'header name in another case', match: { header: { 'x-PRIORITY': 'highest' } }, msg: { headers: { 'x-priority': ['1 (Highest)'] } }, want: true },
  { name: 'header /regex/', match: { header: { 'X-Priority': '/^[12]\\b/' } }, msg: { headers: { 'x-priority': ['2 (High)'] } }, want: true },
  { name: 'header value does not match', match: { header: { 'X-Priority': '/^[12]\\b/' } }, msg: { headers: { 'x-priority': ['3 (Normal)'] } }, want: false },
  { name: 'header missing', match: { header: { 'X-Priority': '1' } }, want: false },
  { name: 'header: any occurrence matches', match: { header: { Received: 'mx2' } }, msg: { headers: { received: ['from mx1', 'from mx2'] } }, want: true },
  { name: 'header named like an Object property', match: { header: { Constructor: 'x' } }, want: false },
  { name: 'header: all named headers must match', match: { header: { 'X-A': 'yes', 'X-B': 'yes' } }, msg: { headers: { 'x-a': ['yes'] } }, want: false },

  // --- hasAttachment: inline parts (images of an html body) do not count
  { name: 'hasAttachment true, with a file', match: { hasAttachment: true }, msg: { attachments: [attachment()] }, want: true },
  { name: 'hasAttachment true, only an inline image', match: { hasAttachment: true }, msg: { attachments: [inline] }, want: false },
  { name: 'hasAttachment true, nothing', match: { hasAttachment: true }, want: false },
  { name: 'hasAttachment false, nothing', match: { hasAttachment: false }, want: true },
  { name: 'hasAttachment false, only an inline image', match: { hasAttachment: false }, msg: { attachments: [inline] }, want: true },
  { name: 'hasAttachment false, with a file', match: { hasAttachment: false }, msg: { attachments: [inline, attachment()] }, want: false },

  // --- size: min / max inclusive, units are powers of 1024
  { name: 'size min, exactly', match: { size: { min: '10KB' } }, msg: { size: 10 * 1024 }, want: true },
  { name: 'size min, one byte short', match: { size: { min: '10KB' } }, msg: { size: 10 * 1024 - 1 }, want: false },
  { name: 'size max, exactly', match: { size: { max: '1MB' } }, msg: { size: 1024 ** 2 }, want: true },
  { name: 'size max, one byte over', match: { size: { max: '1MB' } }, msg: { size: 1024 ** 2 + 1 }, want: false },
  { name: 'size min as a number of bytes', match: { size: { min: 500 } }, msg: { size: 499 }, want: false },
  { name: 'size fractional unit', match: { size: { min: '1.5KB' } }, msg: { size: 1536 }, want: true },
  { name: 'size MiB', match: { size: { max: '2MiB' } }, msg: { size: 2 * 1024 ** 2 + 1 }, want: false },
  { name: 'size within min and max', match: { size: { min: '1KB', max: '4KB' } }, msg: { size: 2048 }, want: true },
  { name: 'size below min and max', match: { size: { min: '1KB', max: '4KB' } }, msg: { size: 100 }, want: false },

  // --- during / outside a schedule (São Paulo business hours, holiday 2026-12-25)
  { name: 'during, business hours', match: { during: 'business-hours' }, at: MONDAY_10_SP, want: true },
  { name: 'during, evening', match: { during: 'business-hours' }, at: MONDAY_20_SP, want: false },
  { name: 'during, lunch break', match: { during: 'business-hours' }, at: new Date('2026-05-04T12:30:00-03:00'), want: false },
  { name: 'during, on the holiday', match: { during: 'business-hours' }, at: new Date('2026-12-25T10:00:00-03:00'), want: false },
  { name: 'during, saturday', match: { during: 'business-hours' }, at: new Date('2026-05-09T10:00:00-03:00'), want: false },
  { name: 'outside, business hours', match: { outside: 'business-hours' }, at: MONDAY_10_SP, want: false },
  { name: 'outside, evening', match: { outside: 'business-hours' }, at: MONDAY_20_SP, want: true },
  { name: 'outside, on the holiday', match: { outside: 'business-hours' }, at: new Date('2026-12-25T10:00:00-03:00'), want: true },
  // 2026-05-04 22:30 in São Paulo is Tuesday 01:30 UTC: still Monday evening locally, so outside
  { name: 'outside, local evening on the next UTC day', match: { outside: 'business-hours' }, at: new Date('2026-05-05T01:30:00Z'), want: true },

  // --- combinations: every condition must hold
  ...(() => {
    const all: RouteMatch = { mailbox: 'desk', from: '@cliente.example', subject: 'printer', body: 'offline', header: { 'X-Priority': '1' }, hasAttachment: false, size: { max: '1MB' }, during: 'business-hours' };
    const ok: Partial<ParsedMessage> = { headers: { 'x-priority': ['1'] } };
    const base: Row = { name: 'all hold', match: all, msg: ok, at: MONDAY_10_SP, want: true };
    return [
      base,
      { ...base, name: 'all but mailbox', mailbox: 'gdesk', want: false },
      { ...base, name: 'all but from', msg: { ...ok, from: addr('x@other.example') }, want: false },
      { ...base, name: 'all but subject', msg: { ...ok, subject: 'Scanner' }, want: false },
      { ...base, name: 'all but body', msg: { ...ok, text: 'works again' }, want: false },
      { ...base, name: 'all but header', msg: {}, want: false },
      { ...base, name: 'all but hasAttachment', msg: { ...ok, attachments: [attachment()] }, want: false },
      { ...base, name: 'all but size', msg: { ...ok, size: 2 * 1024 ** 2 }, want: false },
      { ...base, name: 'all but during', at: MONDAY_20_SP, want: false },
    ];
  })(),
];

const snap = snapshotOf({
  routes: rows.map((r, i) => ({ name: `r${i}`, match: r.match })),
});

describe('routeMatches', () => {
  it.each(rows.map((r, i) => ({ ...r, i })))('$name → $want', ({ i, msg, mailbox, at, want }) => {
    const route = snap.routes[i]!;
    expect(routeMatches(snap, route, mailbox ?? 'desk', mail(msg), at ?? MONDAY_10_SP)).toBe(want);
  });

  it('a schedule the snapshot does not know never matches (during nor outside)', () => {
    const route: Route = { name: 'ghost', match: { during: 'nope' } };
    expect(routeMatches(snap, route, 'desk', mail(), MONDAY_10_SP)).toBe(false);
    expect(routeMatches(snap, { name: 'ghost2', match: { outside: 'nope' } }, 'desk', mail(), MONDAY_10_SP)).toBe(false);
  });

  it('a /regex/ with the g flag matches every time (no lastIndex carried over)', () => {
    const s = snapshotOf({ routes: [{ name: 'g', match: { subject: '/printer/gi' } }] });
    for (let i = 0; i < 3; i++) expect(routeMatches(s, s.routes[0]!, 'desk', mail(), MONDAY_10_SP)).toBe(true);
  });
});

describe('the text a route pattern sees is capped (a polynomial regex stays bounded)', () => {
  const s = snapshotOf({
    routes: [
      { name: 'body-tail', match: { body: '/MARKER$/' } },
      { name: 'subject-tail', match: { subject: 'MARKER' } },
      { name: 'header-tail', match: { header: { 'X-Note': '/MARKER/' } } },
      { name: 'from-tail', match: { from: '/MARKER/' } },
    ],
  });
  const [body, subject, header, from] = s.routes as [Route, Route, Route, Route];
  const at = (n: number) => 'x'.repeat(n) + 'MARKER';

  it(`body: the first ${ROUTE_BODY_LIMIT} characters`, () => {
    expect(routeMatches(s, body, 'desk', mail({ text: at(ROUTE_BODY_LIMIT - 6) }), MONDAY_10_SP)).toBe(true);
    expect(routeMatches(s, body, 'desk', mail({ text: at(ROUTE_BODY_LIMIT - 5) }), MONDAY_10_SP)).toBe(false);
  });

  it(`subject, each header value, addresses: the first ${ROUTE_HEADER_LIMIT} characters`, () => {
    expect(routeMatches(s, subject, 'desk', mail({ subject: at(ROUTE_HEADER_LIMIT - 6) }), MONDAY_10_SP)).toBe(true);
    expect(routeMatches(s, subject, 'desk', mail({ subject: at(ROUTE_HEADER_LIMIT) }), MONDAY_10_SP)).toBe(false);
    expect(routeMatches(s, header, 'desk', mail({ headers: { 'x-note': [at(ROUTE_HEADER_LIMIT), at(10)] } }), MONDAY_10_SP)).toBe(true);
    expect(routeMatches(s, header, 'desk', mail({ headers: { 'x-note': [at(ROUTE_HEADER_LIMIT)] } }), MONDAY_10_SP)).toBe(false);
    expect(routeMatches(s, from, 'desk', mail({ from: { name: '', address: `${at(ROUTE_HEADER_LIMIT)}@x.example` } }), MONDAY_10_SP)).toBe(false);
  });
});

describe('evaluateRoutes over the table', () => {
  it('reports every matching route, in order', () => {
    const out = evaluateRoutes(snap, 'desk', mail({ headers: { 'x-priority': ['1'] } }), MONDAY_10_SP);
    const expected = rows
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.want && r.mailbox === undefined && r.msg === undefined && r.at === undefined)
      .map(({ i }) => `r${i}`);
    // every row that matches the default message at the default time is among the matches, in order
    const positions = expected.map((n) => out.matched.indexOf(n));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });
});
