// Threading (pure): In-Reply-To / References against the company's stored Message-IDs, else the
// company's own ticket tag in the subject; never another company's ticket.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/ingest/parse.js';
import { findThread, subjectTags } from '../../src/ingest/thread.js';
import { fakeLookups } from '../fixtures/routing/support.js';

const lookups = () =>
  fakeLookups(
    { 'ACME-000123': 'acme', 'ACME-000124': 'acme', 'GLX-000001': 'globex', 'ACME-000999': 'globex' },
    { acme: { 'q1@cliente.example': 'ACME-000123', 'ticket-000123-1@acme.example': 'ACME-000123' }, globex: { 'g1@globex.example': 'GLX-000001' } },
  );
const msg = (over: Partial<{ inReplyTo: string[]; references: string[]; subject: string }>) => ({ inReplyTo: [], references: [], subject: 'Hello', ...over });

describe('subjectTags', () => {
  it.each([
    ['RE: [ACME-000123] Printer offline', ['ACME-000123']],
    ['Fwd: Re: [GLX-000001] x [ACME-000123]', ['GLX-000001', 'ACME-000123']],
    ['[ACME-1234567] after a million tickets', ['ACME-1234567']],
    ['[A1-000001] shortest prefix', ['A1-000001']],
    ['ACME-000123 without brackets', []],
    ['[ACME-00012] too few digits', []],
    ['re: [acme-000123] lower case', ['ACME-000123']],
    ['[Acme-000123] mixed case', ['ACME-000123']],
    ['[ACME 000123]', []],
    ['', []],
  ])('%j → %j', (subject, tags) => {
    expect(subjectTags(subject)).toEqual(tags);
  });
});

describe('findThread', () => {
  it('by In-Reply-To', () => {
    expect(findThread('acme', 'ACME', msg({ inReplyTo: ['q1@cliente.example'] }), lookups())).toEqual({ ticketId: 'ACME-000123', by: 'references' });
  });

  it('by any of the References', () => {
    const l = lookups();
    expect(findThread('acme', 'ACME', msg({ references: ['unknown@x', 'ticket-000123-1@acme.example', 'other@y'] }), l)).toEqual({ ticketId: 'ACME-000123', by: 'references' });
    expect(l.calls).toEqual([['acme', 'unknown@x', 'ticket-000123-1@acme.example', 'other@y']]);
  });

  it('looks Message-IDs up only within the company', () => {
    const l = lookups();
    expect(findThread('acme', 'ACME', msg({ inReplyTo: ['g1@globex.example'] }), l)).toBeNull();
    expect(l.calls[0]![0]).toBe('acme');
  });

  it('by the subject tag when no Message-ID is known', () => {
    expect(findThread('acme', 'ACME', msg({ inReplyTo: ['lost@x'], subject: 'RE: [ACME-000124] Printer' }), lookups())).toEqual({ ticketId: 'ACME-000124', by: 'subject-tag', unverifiedSender: true }); // no sender given: not on the ticket
  });

  it('References win over the subject tag', () => {
    expect(findThread('acme', 'ACME', msg({ references: ['q1@cliente.example'], subject: 'Re: [ACME-000124]' }), lookups())).toEqual({ ticketId: 'ACME-000123', by: 'references' });
  });

  it("a tag with another company's prefix does not thread", () => {
    expect(findThread('acme', 'ACME', msg({ subject: 'Re: [GLX-000001] hello' }), lookups())).toBeNull();
  });

  it("the company's tag is found after another company's tag", () => {
    expect(findThread('acme', 'ACME', msg({ subject: 'Re: [GLX-000001] [ACME-000123]' }), lookups())).toEqual({ ticketId: 'ACME-000123', by: 'subject-tag', unverifiedSender: true }); // no sender given: not on the ticket
  });

  it('a tag with the right prefix whose ticket belongs to another company does not thread', () => {
    expect(findThread('acme', 'ACME', msg({ subject: 'Re: [ACME-000999]' }), lookups())).toBeNull();
  });

  it('a lower-case tag threads to its ticket', () => {
    expect(findThread('acme', 'ACME', msg({ subject: 're: [acme-000123] printer' }), lookups())).toEqual({ ticketId: 'ACME-000123', by: 'subject-tag', unverifiedSender: true }); // no sender given: not on the ticket
  });

  it('an unknown tag does not thread (a new ticket)', () => {
    expect(findThread('acme', 'ACME', msg({ subject: 'Re: [ACME-000777] lost' }), lookups())).toBeNull();
  });

  it('a prefix that is a prefix of another does not match it', () => {
    const l = fakeLookups({ 'ACMEX-000001': 'acme' }, {});
    expect(findThread('acme', 'ACME', msg({ subject: '[ACMEX-000001]' }), l)).toBeNull();
  });

  it('nothing to go by: null, and no Message-ID lookup for a message without references', () => {
    const l = lookups();
    expect(findThread('acme', 'ACME', msg({}), l)).toBeNull();
    expect(l.calls).toEqual([]);
  });

  it('parsed fixtures: a reply by References and a reply by subject tag', async () => {
    const dir = join(import.meta.dirname, '../fixtures/mail');
    const reply = await parseMessage(readFileSync(join(dir, 'reply-thread.eml')));
    const tagged = await parseMessage(readFileSync(join(dir, 'ticket-tag.eml')));
    expect(findThread('acme', 'ACME', reply, lookups())).toEqual({ ticketId: 'ACME-000123', by: 'references' });
    expect(findThread('acme', 'ACME', tagged, lookups())).toEqual({ ticketId: 'ACME-000123', by: 'subject-tag', unverifiedSender: true }); // no sender given: not on the ticket
    expect(findThread('globex', 'GLX', tagged, lookups())).toBeNull();
  });
});
