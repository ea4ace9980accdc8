// decide(): owner → routes → flags → thread → hold/drop, as the pipeline calls it at commit time.
// Threading by In-Reply-To / References / subject tag per company, loop flags, and the per-sender cap.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SenderRate } from '../../src/ingest/classify.js';
import { decide, type DecideInput } from '../../src/ingest/decide.js';
import { parseMessage } from '../../src/ingest/parse.js';
import type { ParsedMessage } from '../../src/ingest/parsed-message.js';
import { BASE, fakeLookups, mail, MONDAY_10_SP, snapshotOf } from '../fixtures/routing/support.js';

const store = () =>
  fakeLookups(
    { 'ACME-000123': 'acme', 'GLX-000001': 'globex', 'SPILL-000001': 'spill' },
    {
      acme: { 'q1@cliente.example': 'ACME-000123', 'ack-1.mailroom@acme.example': 'ACME-000123' },
      globex: { 'g1@globex.example': 'GLX-000001' },
    },
  );
const snap = snapshotOf();
const run = (parsed: Partial<ParsedMessage>, over: Partial<DecideInput> = {}) =>
  decide({ snap, mailboxId: 'desk', parsed: mail(parsed), now: MONDAY_10_SP, lookups: store(), ...over });

describe('threading in decide', () => {
  it('a reply by In-Reply-To joins the ticket', () => {
    const d = run({ subject: 'Re: Printer', inReplyTo: ['q1@cliente.example'] });
    expect(d.threadTo).toBe('ACME-000123');
    expect(d.ticket.reasons).toContain('reply to ACME-000123 (by references)');
  });

  it('a reply by any References id (e.g. to mailroom\'s acknowledgement) joins the ticket', () => {
    const d = run({ references: ['lost@x', 'ack-1.mailroom@acme.example'] });
    expect(d.threadTo).toBe('ACME-000123');
    expect(d.flags).toEqual([]); // referencing mailroom's own message is not a loop
  });

  it('a reply by subject tag joins the ticket', () => {
    const d = run({ subject: 'RE: [ACME-000123] Printer on 3rd floor is offline' });
    expect(d.threadTo).toBe('ACME-000123');
    expect(d.ticket.reasons).toContain('reply to ACME-000123 (by subject-tag)');
  });

  it("a tag of another company's prefix does not thread: a new ticket of the mailbox's company", () => {
    const d = run({ subject: 'Re: [GLX-000001] hello' });
    expect(d.threadTo).toBeNull();
    expect(d.ticket.company).toBe('acme');
  });

  it("a Message-ID known only to another company does not thread", () => {
    expect(run({ inReplyTo: ['g1@globex.example'] }).threadTo).toBeNull();
  });

  it('an unknown tag → new ticket', () => {
    const d = run({ subject: 'Re: [ACME-000777] where is it?' });
    expect(d.threadTo).toBeNull();
    expect(d.ticket).toMatchObject({ company: 'acme', contract: 'main', status: 'open' });
  });

  it('the same tag threads in the company that owns it (globex mailbox)', () => {
    const d = run({ subject: 'Re: [GLX-000001] hello' }, { mailboxId: 'gdesk' });
    expect(d.threadTo).toBe('GLX-000001');
  });

  it('shared mailbox: the sender domain picks the company, then its tickets are searched', () => {
    const l = store();
    const d = decide({ snap, mailboxId: 'shared', parsed: mail({ from: { name: '', address: 'bob@globex.example' }, subject: 'Re: [GLX-000001]', inReplyTo: ['q1@cliente.example'] }), now: MONDAY_10_SP, lookups: l });
    expect(d.threadTo).toBe('GLX-000001');
    expect(l.calls).toEqual([['globex', 'q1@cliente.example']]);
  });

  describe('shared mailbox, a sender no company claims (fallback spill)', () => {
    const stranger = { name: '', address: 'colleague@gmail.example' };
    const shared = (parsed: Partial<ParsedMessage>, over: Partial<DecideInput> = {}) =>
      decide({ snap, mailboxId: 'shared', parsed: mail({ from: stranger, ...parsed }), now: MONDAY_10_SP, lookups: store(), ...over });

    it("a reply by References joins the owner company's ticket, with that company's contract", () => {
      const d = shared({ subject: 'Re: Printer', references: ['q1@cliente.example'] });
      expect(d.threadTo).toBe('ACME-000123');
      expect(d.ticket).toMatchObject({ company: 'acme', contract: 'main', prefix: 'ACME', group: 'n1' });
      expect(d.ticket.reasons).toContain('reply to a ticket of acme: company acme, not spill');
    });

    it("a reply by subject tag joins the ticket of the company whose prefix it carries (marked unverified)", () => {
      const d = shared({ subject: 'Re: [GLX-000001] hello' });
      expect(d.threadTo).toBe('GLX-000001');
      expect(d.ticket).toMatchObject({ company: 'globex', contract: 'gmain' });
      expect(d.flags).toContain('thread-unverified-sender');
    });

    it('references are searched in every owner before any subject tag', () => {
      const d = shared({ subject: 'Re: [GLX-000001]', inReplyTo: ['q1@cliente.example'] });
      expect(d.threadTo).toBe('ACME-000123');
    });

    it('no ticket matched: a new ticket of the fallback', () => {
      const d = shared({ subject: 'Re: [ACME-000777] hello', inReplyTo: ['nobody@x'] });
      expect(d.threadTo).toBeNull();
      expect(d.ticket).toMatchObject({ company: 'spill', contract: 'triage' });
    });

    it('a route that sets the company keeps the search to that company', () => {
      const s = snapshotOf({ routes: [{ name: 'to-spill', match: { mailbox: 'shared' }, set: { company: 'spill' } }] });
      const d = shared({ references: ['q1@cliente.example'] }, { snap: s });
      expect(d.threadTo).toBeNull();
      expect(d.ticket.company).toBe('spill');
    });
  });

  it('without lookups (the dry run) nothing threads', () => {
    expect(decide({ snap, mailboxId: 'desk', parsed: mail({ inReplyTo: ['q1@cliente.example'] }), now: MONDAY_10_SP }).threadTo).toBeNull();
  });

  it('parsed fixtures of a thread', async () => {
    const dir = join(import.meta.dirname, '../fixtures/mail');
    const lookups = fakeLookups({ 'ACME-000123': 'acme' }, { acme: { 'CAF1234abcd@mail.clientes.example.com.br': 'ACME-000123' } });
    for (const f of ['reply-thread.eml', 'ticket-tag.eml']) {
      const parsed = await parseMessage(readFileSync(join(dir, f)));
      expect(decide({ snap, mailboxId: 'desk', parsed, now: MONDAY_10_SP, lookups }).threadTo).toBe('ACME-000123');
    }
    const question = await parseMessage(readFileSync(join(dir, 'simple-plain.eml')));
    expect(decide({ snap, mailboxId: 'desk', parsed: question, now: MONDAY_10_SP, lookups }).threadTo).toBeNull();
  });
});

describe('loop flags in decide', () => {
  it('are reported with their reason and do not change the status by themselves', async () => {
    const parsed = await parseMessage(readFileSync(join(import.meta.dirname, '../fixtures/loops/outlook-oof.eml')));
    const d = decide({ snap, mailboxId: 'desk', parsed, now: MONDAY_10_SP, lookups: store() });
    expect(d.flags).toEqual(['auto-reply']);
    expect(d.ticket.reasons).toContain('marked auto-reply');
    expect(d.ticket.status).toBe('open');
  });
});

describe('per-sender cap (senderRateLimit) in decide', () => {
  const limited = snapshotOf({ defaults: { inbound: { senderRateLimit: 2 } } });
  const robot = { name: 'Robot', address: 'robot@cliente.example' };
  const go = (rate: SenderRate, parsed: Partial<ParsedMessage>, at = MONDAY_10_SP, mailboxId = 'desk') =>
    decide({ snap: limited, mailboxId, parsed: mail(parsed), now: at, lookups: store(), senderRate: rate });

  it('beyond the limit new tickets from that sender are held and flagged loop; other senders are not', () => {
    const rate = new SenderRate();
    const burst = [1, 2, 3, 4].map((i) => go(rate, { from: robot, subject: `event ${i}` }));
    expect(burst.map((d) => d.ticket.status)).toEqual(['open', 'open', 'held', 'held']);
    expect(burst.map((d) => d.flags)).toEqual([[], [], ['loop'], ['loop']]);
    expect(burst[2]!.ticket.reasons).toContain('more than 2 new tickets from robot@cliente.example within an hour: held');
    expect(go(rate, { subject: 'a person' }).ticket.status).toBe('open');
  });

  it('replies to existing tickets are neither counted nor held', () => {
    const rate = new SenderRate();
    go(rate, { from: robot });
    go(rate, { from: robot });
    const reply = go(rate, { from: robot, inReplyTo: ['q1@cliente.example'] });
    expect(reply.threadTo).toBe('ACME-000123');
    expect(reply.ticket.status).toBe('open');
    expect(reply.flags).toEqual([]);
    expect(go(rate, { from: robot }).ticket.status).toBe('held'); // the third new ticket
  });

  it('the window slides: an hour later the sender is let through again', () => {
    const rate = new SenderRate();
    for (let i = 0; i < 3; i++) go(rate, { from: robot });
    expect(go(rate, { from: robot }, new Date(MONDAY_10_SP.getTime() + 61 * 60_000)).ticket.status).toBe('open');
  });

  it('counts per company: the same sender writing to another company starts at zero', () => {
    const rate = new SenderRate();
    for (let i = 0; i < 3; i++) go(rate, { from: robot });
    expect(go(rate, { from: robot }, MONDAY_10_SP, 'gdesk').ticket.status).toBe('open');
  });

  it('a loop flag is not duplicated and other flags stay', () => {
    const rate = new SenderRate();
    const auto = { from: robot, headers: { 'auto-submitted': ['auto-replied'] } };
    go(rate, auto);
    go(rate, auto);
    expect(go(rate, auto).flags).toEqual(['auto-reply', 'loop']);
  });

  it('defaults to 20 per hour', () => {
    const rate = new SenderRate();
    const statuses = Array.from({ length: 21 }, () => decide({ snap, mailboxId: 'desk', parsed: mail({ from: robot }), now: MONDAY_10_SP, senderRate: rate }).ticket.status);
    expect(statuses.filter((s) => s === 'open')).toHaveLength(20);
    expect(statuses[20]).toBe('held');
  });
});

describe('set.contract naming a contract of another company', () => {
  it('moves the ticket to the company that has the contract (never company X with contract of Y)', () => {
    const s = snapshotOf({ routes: [{ name: 'to-gmain', match: { subject: 'globex' }, set: { contract: 'gmain' } }] });
    const d = decide({ snap: s, mailboxId: 'desk', parsed: mail({ subject: 'for globex' }), now: MONDAY_10_SP });
    expect(d.ticket).toMatchObject({ company: 'globex', contract: 'gmain', prefix: 'GLX', type: 'question', group: 'g1' });
    expect(d.ticket.reasons).toContain('route set contract gmain of company globex');
  });

  it('a contract id two other companies share is ambiguous: ignored, with a reason', () => {
    const companies = {
      ...BASE.companies,
      globex: { ...BASE.companies.globex, contracts: { ...BASE.companies.globex.contracts, shared2: { ticket: { group: 'g' } } } },
      spill: { contracts: { ...BASE.companies.spill.contracts, shared2: { ticket: { group: 's' } } } },
    };
    const s = snapshotOf({ companies, routes: [{ name: 'amb', set: { contract: 'shared2' } }] });
    const d = decide({ snap: s, mailboxId: 'desk', parsed: mail(), now: MONDAY_10_SP });
    expect(d.ticket).toMatchObject({ company: 'acme', contract: 'main', type: 'incident' });
    expect(d.ticket.reasons.join('\n')).toContain('route set contract shared2, which company acme does not have: ignored');
  });
});

describe('hold is for new tickets', () => {
  const holding = snapshotOf({ routes: [{ name: 'approval', match: { subject: 'HOLDME' }, hold: true }] });
  it('a new ticket matching a hold route is held', () => {
    const d = decide({ snap: holding, mailboxId: 'desk', parsed: mail({ subject: 'Order HOLDME' }), now: MONDAY_10_SP, lookups: store() });
    expect(d.ticket.status).toBe('held');
    expect(d.holds).toEqual(['route']);
  });
  it('a reply matching it joins its ticket as the ticket is: not marked held (that would hold nothing)', () => {
    const d = decide({ snap: holding, mailboxId: 'desk', parsed: mail({ subject: 'Re: Order HOLDME', inReplyTo: ['q1@cliente.example'] }), now: MONDAY_10_SP, lookups: store() });
    expect(d.threadTo).toBe('ACME-000123');
    expect(d.ticket.status).toBe('open');
    expect(d.holds).toEqual([]);
    expect(d.ticket.reasons).toContain('hold applies to new tickets: the reply joins ACME-000123 as it is');
  });
});

describe('a reply to a rejected ticket reopens it as held', () => {
  const rejected = (status = 'rejected') => ({ ...store(), status: (id: string) => (id === 'ACME-000123' ? status : 'open') });
  const holding = snapshotOf({ routes: [{ name: 'approval', match: { subject: 'HOLDME' }, hold: true }] });
  const reply = { subject: 'Re: Printer', inReplyTo: ['q1@cliente.example'] };

  it('by references or by tag: joins, held, flagged reply-to-rejected, with a reopen for the commit', () => {
    for (const parsed of [reply, { subject: 'Re: [ACME-000123] Printer' }]) {
      const d = decide({ snap, mailboxId: 'desk', parsed: mail(parsed), now: MONDAY_10_SP, lookups: rejected() });
      expect(d.threadTo).toBe('ACME-000123');
      expect(d.reopen).toEqual({ from: 'rejected', to: 'held' });
      expect(d.ticket.status).toBe('held');
      expect(d.holds).toEqual(['reply-to-rejected']);
      expect(d.flags).toContain('reply-to-rejected');
      expect(d.ticket.reasons).toContain('reply to ACME-000123, which was rejected: reopened as held for a supervisor to decide again');
    }
  });

  it('whether or not the config still requires approval (snap has no hold; holding has one)', () => {
    for (const s of [snap, holding]) {
      const d = decide({ snap: s, mailboxId: 'desk', parsed: mail({ ...reply, subject: 'Re: HOLDME' }), now: MONDAY_10_SP, lookups: rejected() });
      expect([d.reopen, d.ticket.status, d.holds]).toEqual([{ from: 'rejected', to: 'held' }, 'held', ['reply-to-rejected']]);
      expect(d.ticket.reasons.join('\n')).not.toContain('joins ACME-000123 as it is');
    }
  });

  it('a reply to an open or held ticket reopens nothing; a dropped reply leaves the rejection as it is', () => {
    for (const status of ['open', 'held']) {
      const d = decide({ snap, mailboxId: 'desk', parsed: mail(reply), now: MONDAY_10_SP, lookups: rejected(status) });
      expect([d.threadTo, d.reopen, d.flags, d.holds]).toEqual(['ACME-000123', null, [], []]);
    }
    const dropping = snapshotOf({ routes: [{ name: 'spam', match: { subject: 'Printer' }, drop: 'spam' }] });
    const d = decide({ snap: dropping, mailboxId: 'desk', parsed: mail(reply), now: MONDAY_10_SP, lookups: rejected() });
    expect([d.reopen, d.ticket.status, d.flags]).toEqual([null, 'dropped', []]);
  });
});
