// Threading by subject tag is guessable ([ACME-000004]): a tag match from a sender who is not on the
// ticket (no earlier From/To/Cc, not of the company's domains) is threaded but marked, counts against
// the per-sender cap, and beyond it becomes a new held ticket. References matches are unaffected.
import { describe, expect, it } from 'vitest';
import { SenderRate } from '../../src/ingest/classify.js';
import { decide } from '../../src/ingest/decide.js';
import type { ParsedMessage } from '../../src/ingest/parsed-message.js';
import { articleAddresses } from '../../src/store/embedded/intake.js';
import { findThread, senderOnTicket, type ThreadLookups } from '../../src/ingest/thread.js';
import { BASE, fakeLookups, mail, MONDAY_10_SP, snapshotOf } from '../fixtures/routing/support.js';

const stranger = { name: 'X', address: 'mallory@evil.example' };
const lookups = (participants: Record<string, string[]> = { 'ACME-000004': ['maria@cliente.example', 'suporte@acme.example'] }): ThreadLookups => ({
  ...fakeLookups({ 'ACME-000004': 'acme' }, { acme: { 'q4@cliente.example': 'ACME-000004' } }),
  participants: (id) => participants[id] ?? null,
});
const snap = snapshotOf();
const run = (parsed: Partial<ParsedMessage>, l = lookups(), senderRate?: SenderRate, s = snap) =>
  decide({ snap: s, mailboxId: 'desk', parsed: mail(parsed), now: MONDAY_10_SP, lookups: l, ...(senderRate && { senderRate }) });

describe('senderOnTicket', () => {
  it('a participant (any case) or a sender of a company domain or subdomain', () => {
    expect(senderOnTicket('Maria@Cliente.example', ['maria@cliente.example'], [])).toBe(true);
    expect(senderOnTicket('joana@br.cliente.example', [], ['Cliente.Example'])).toBe(true);
    expect(senderOnTicket('joana@notcliente.example', [], ['cliente.example'])).toBe(false);
    expect(senderOnTicket(undefined, ['maria@cliente.example'], ['cliente.example'])).toBe(false);
    expect(senderOnTicket('mallory@evil.example', null, [])).toBe(false);
  });

  it('articleAddresses: From, To and Cc of every article, lower-cased, once each', () => {
    const a = (from: string, to: string[], cc: string[] = []) => ({ from: { name: '', address: from }, to: to.map((address) => ({ name: '', address })), cc: cc.map((address) => ({ name: '', address })) });
    expect(articleAddresses([a('Maria@cliente.example', ['suporte@acme.example'], ['ti@acme.example']), a('joana@cliente.example', ['suporte@acme.example'])]))
      .toEqual(['maria@cliente.example', 'suporte@acme.example', 'ti@acme.example', 'joana@cliente.example']);
  });
});

describe('findThread: who may reply by subject tag', () => {
  const msg = (from: string, over: Partial<ParsedMessage> = {}) => ({ inReplyTo: [], references: [], subject: 'Re: [ACME-000004] Printer', from: { address: from }, ...over });

  it('a participant threads unmarked; a stranger threads marked', () => {
    expect(findThread('acme', 'ACME', msg('maria@cliente.example'), lookups())).toEqual({ ticketId: 'ACME-000004', by: 'subject-tag' });
    expect(findThread('acme', 'ACME', msg('mallory@evil.example'), lookups())).toEqual({ ticketId: 'ACME-000004', by: 'subject-tag', unverifiedSender: true });
  });

  it('a stranger whose mail references a stored Message-ID is not marked (References are not guessable)', () => {
    expect(findThread('acme', 'ACME', msg('mallory@evil.example', { references: ['q4@cliente.example'] }), lookups())).toEqual({ ticketId: 'ACME-000004', by: 'references' });
  });

  it('unknown participants (no lookup) and no company domain: marked', () => {
    const l = fakeLookups({ 'ACME-000004': 'acme' }, {});
    expect(findThread('acme', 'ACME', msg('maria@cliente.example'), l)?.unverifiedSender).toBe(true);
    expect(findThread('acme', 'ACME', msg('maria@cliente.example'), l, ['cliente.example'])?.unverifiedSender).toBeUndefined();
  });
});

describe('decide: subject-tag reply from a stranger', () => {
  it('threads, flagged thread-unverified-sender, with a reason', () => {
    const d = run({ from: stranger, subject: 'Re: [ACME-000004] Printer' });
    expect(d.threadTo).toBe('ACME-000004');
    expect(d.flags).toContain('thread-unverified-sender');
    expect(d.ticket.reasons.join('\n')).toMatch(/mallory@evil\.example is not on ACME-000004/);
  });

  it('a colleague of the company domains is not flagged (acme claims cliente.example)', () => {
    const d = run({ from: { name: '', address: 'joana@cliente.example' }, subject: 'Re: [ACME-000004] Printer' });
    expect(d.threadTo).toBe('ACME-000004');
    expect(d.flags).not.toContain('thread-unverified-sender');
  });

  it('counts against the per-sender cap; beyond it, a new held ticket (held:sender-rate) instead of an article', () => {
    const limited = snapshotOf({ defaults: { inbound: { senderRateLimit: 2 } } });
    const rate = new SenderRate();
    const results = [1, 2, 3].map(() => run({ from: stranger, subject: 'Re: [ACME-000004] Printer' }, lookups(), rate, limited));
    expect(results.map((d) => d.threadTo)).toEqual(['ACME-000004', 'ACME-000004', null]);
    expect(results[2]!.ticket.status).toBe('held');
    expect(results[2]!.holds).toEqual(['sender-rate']);
    expect(results[2]!.flags).toEqual(expect.arrayContaining(['loop', 'thread-unverified-sender']));
    // a participant's tagged replies are not counted at all
    const known = [1, 2, 3].map(() => run({ subject: 'Re: [ACME-000004] Printer' }, lookups(), rate, limited));
    expect(known.map((d) => d.threadTo)).toEqual(['ACME-000004', 'ACME-000004', 'ACME-000004']);
  });

  it('hold causes are kept: mailbox hold and sender rate', () => {
    const desk = { inbound: { protocol: 'imap', host: 'imap.acme.example', hold: true }, auth: { user: 'u', password: '${PW}' } };
    const held = snapshotOf({ mailboxes: { ...BASE.mailboxes, desk }, defaults: { inbound: { senderRateLimit: 1 } } });
    const rate = new SenderRate();
    expect(run({ subject: 'First' }, lookups(), rate, held).holds).toEqual(['mailbox']);
    const d = run({ subject: 'New question' }, lookups(), rate, held);
    expect(d.ticket.status).toBe('held');
    expect(d.holds).toEqual(['mailbox', 'sender-rate']);
  });
});
