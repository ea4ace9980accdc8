// `mailroom route`: the dry run prints which routes matched and the ticket that would result, as
// text or JSON; --at pins the clock so `outside: business-hours` gives the same answer everywhere.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';

const DIR = join(import.meta.dirname, '../fixtures/routing');
const CONFIG = join(DIR, 'config');
const QUESTION = join(DIR, 'mail/question.eml');
const INVOICE = join(DIR, 'mail/invoice.eml');
const LOTTERY = join(DIR, 'mail/lottery.eml');
const MONDAY_10 = '2026-05-04T10:00:00-03:00';
const MONDAY_20 = '2026-05-04T23:00:00Z'; // 20:00 in São Paulo

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['route', ...args], (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('mailroom route', () => {
  it('prints the matched routes and the resulting ticket (text)', async () => {
    const r = await cli('--config', CONFIG, '--mailbox', 'desk', '--at', MONDAY_10, QUESTION, INVOICE);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [question, invoice] = r.out.split(/\n(?=\S)/);
    expect(question).toContain(`${QUESTION}: "Printer on 3rd floor is offline" from maria@cliente.example`);
    expect(question).toContain('  routes:  fields');
    expect(question).toContain('  ticket:  company acme, contract main, status open, type incident, group n1');
    expect(question).toContain('  tags:    email');
    expect(question).toContain('  field title: "Printer on 3rd floor is offline"');
    expect(question).toContain('  field requester: "maria@cliente.example"');
    expect(question).toContain('  deliver: store');
    expect(question).toContain('  · mailbox desk belongs to acme');
    expect(invoice).toContain('  routes:  invoices');
    expect(invoice).toContain('  ticket:  company acme, contract main, status open, type billing, group financeiro, priority high');
    expect(invoice).toContain('  tags:    email, finance');
    expect(invoice).toContain('  deliver: store, webhook:erp');
    expect(invoice).not.toContain('field title'); // stop: the fields route never ran
  });

  it('--format json', async () => {
    const r = await cli('--config', CONFIG, '--mailbox', 'desk', '--at', MONDAY_10, '--format', 'json', QUESTION, LOTTERY);
    expect(r.code).toBe(0);
    const results = JSON.parse(r.out) as Record<string, unknown>[];
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({
      file: QUESTION,
      subject: 'Printer on 3rd floor is offline',
      from: 'maria@cliente.example',
      routes: ['fields'],
      flags: [],
      deliver: ['store'],
      drop: null,
      ticket: { company: 'acme', contract: 'main', prefix: 'ACME', status: 'open', type: 'incident', group: 'n1', tags: ['email'], fields: { title: 'Printer on 3rd floor is offline', requester: 'maria@cliente.example' } },
    });
    expect(results[0]!.reasons).toEqual(expect.arrayContaining(['mailbox desk belongs to acme', 'routes matched: fields']));
    expect(results[1]).toMatchObject({ routes: ['spam', 'fields'], flags: ['auto-reply'], drop: 'spam', ticket: { status: 'dropped' } });
  });

  it('text output of a dropped, marked message', async () => {
    const r = await cli('--config', CONFIG, '--mailbox', 'desk', '--at', MONDAY_10, LOTTERY);
    expect(r.out).toContain('  deliver: dropped (spam)');
    expect(r.out).toContain('  marked:  auto-reply');
    expect(r.out).toContain('status dropped');
  });

  it('--at makes `outside: business-hours` deterministic', async () => {
    const day = await cli('--config', CONFIG, '--mailbox', 'desk', '--at', MONDAY_10, '--format', 'json', QUESTION);
    const night = await cli('--config', CONFIG, '--mailbox', 'desk', '--at', MONDAY_20, '--format', 'json', QUESTION);
    const holiday = await cli('--config', CONFIG, '--mailbox', 'desk', '--at', '2026-12-25T10:00:00-03:00', '--format', 'json', QUESTION);
    expect(JSON.parse(day.out)[0]).toMatchObject({ routes: ['fields'], ticket: { group: 'n1', tags: ['email'] } });
    expect(JSON.parse(night.out)[0]).toMatchObject({ routes: ['after-hours', 'fields'], ticket: { group: 'plantao', tags: ['email', 'after-hours'] } });
    expect(JSON.parse(holiday.out)[0]).toMatchObject({ routes: ['after-hours', 'fields'] });
  });

  it('--at without an offset is refused (it would depend on the machine timezone)', async () => {
    for (const at of ['2026-05-04T20:00:00', '2026-05-04', 'May 4 2026 20:00', 'tomorrow']) {
      const r = await cli('--config', CONFIG, '--mailbox', 'desk', '--at', at, QUESTION);
      expect(r.code, at).toBe(2);
      expect(r.err, at).toContain('--at');
      expect(r.out, at).toBe('');
    }
    expect((await cli('--config', CONFIG, '--mailbox', 'desk', '--at', '2026-05-04T23:00:00+0000', QUESTION)).code).toBe(0);
  });

  it('--at naming an impossible date or time is refused (not rolled over into the next month or day)', async () => {
    for (const at of ['2026-02-30T10:00:00Z', '2026-04-31T10:00:00Z', '2026-13-01T10:00:00Z', '2026-05-04T24:30:00Z', '2026-05-04T10:60:00Z', '2026-05-04T10:00:61Z']) {
      const r = await cli('--config', CONFIG, '--mailbox', 'desk', '--at', at, QUESTION);
      expect(r.code, at).toBe(2);
      expect(r.err, at).toContain(`--at ${at}: not a valid date-time`);
    }
    for (const at of ['2028-02-29T10:00:00.5-03:00', '2026-05-04T10:00-03:00', '2026-12-31T23:59:59Z']) expect((await cli('--config', CONFIG, '--mailbox', 'desk', '--at', at, QUESTION)).code, at).toBe(0);
  });

  it('exit 2 with usage when no file is given', async () => {
    const r = await cli('--config', CONFIG, '--mailbox', 'desk');
    expect(r.code).toBe(2);
    expect(r.err).toContain('route needs at least one .eml file');
    expect(r.err).toContain('mailroom route');
  });

  it('exit 2 without --config', async () => {
    const r = await cli(QUESTION);
    expect(r.code).toBe(2);
    expect(r.err).toContain('route needs --config');
  });

  it('--mailbox is needed when the config reads several mailboxes', async () => {
    const r = await cli('--config', CONFIG, QUESTION);
    expect(r.code).toBe(2);
    expect(r.err).toContain('route needs --mailbox (one of: desk, other)');
  });

  it('an unknown --mailbox or an unreadable file: exit 1 with a message', async () => {
    const unknown = await cli('--config', CONFIG, '--mailbox', 'nope', QUESTION);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toContain('--mailbox nope is not defined');
    const missing = await cli('--config', CONFIG, '--mailbox', 'desk', join(DIR, 'mail/missing.eml'));
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('cannot read');
    expect(missing.out).toContain('ENOENT');
  });

  it('a broken config: exit 1 with the problems', async () => {
    const r = await cli('--config', join(DIR, 'no-such-dir'), '--mailbox', 'desk', QUESTION);
    expect(r.code).toBe(1);
    expect(r.out).toContain('does not exist');
  });

  it('mail of a mailbox no contract lists goes to the unassigned company', async () => {
    const r = await cli('--config', CONFIG, '--mailbox', 'other', '--at', MONDAY_10, '--format', 'json', QUESTION);
    expect(JSON.parse(r.out)[0]).toMatchObject({ routes: [], ticket: { company: '_unassigned', contract: null, status: 'open' } });
  });
});
