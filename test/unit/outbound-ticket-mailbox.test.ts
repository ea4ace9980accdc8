// Which mailbox a ticket's own mail goes through (ticketMailbox, shared by acknowledgements and
// replies) and the reply's subject check: a reply without an explicit mailbox and without a contract
// outbound leaves through the mailbox the ticket came in on when it can send (where the customer's
// answer is read), like the acknowledgement; a CR/LF in a reply's subject is a 400, never folded.
import { describe, expect, it } from 'vitest';
import { loadFromSources } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { resolveSender, ticketMailbox } from '../../src/outbound/resolve.js';
import { SubmitError } from '../../src/outbound/submit.js';
import { ticketReply } from '../../src/outbound/ticket-reply.js';
import type { Article, Ticket } from '../../src/store/types.js';

const YAML = `
version: 1
defaults:
  outbound: { host: smtp.platform.example, port: 587, security: starttls, from: { address: noreply@platform.example } }
companies:
  acme:
    contracts:
      own: { inbound: [desk], outbound: contract-box }
      plain: { inbound: [desk, readonly] }
mailboxes:
  desk:
    address: desk@acme.example
    auth: { user: desk@acme.example, passwordFile: /run/secrets/desk }
    inbound: { protocol: imap, host: imap.acme.example }
    outbound: { host: smtp.acme.example, from: { address: desk@acme.example } }
  readonly:
    auth: { user: ro@acme.example, passwordFile: /run/secrets/ro }
    inbound: { protocol: imap, host: imap.acme.example }
  contract-box:
    outbound: { host: smtp.contract.example, from: { address: contract@acme.example } }
`;

function snapshot(): Snapshot {
  const r = loadFromSources([{ name: 'mem.yaml', absolute: '/mem.yaml', text: YAML }], { env: {} });
  expect(r.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  return r.snapshot!;
}
const snap = snapshot();

function ticket(contract: string | null, mailbox: string): Ticket {
  const article = { no: 1, mailbox, messageId: 'm1@client.example', references: [], headers: {}, from: { name: 'Client', address: 'client@example.org' } } as unknown as Article;
  return { id: 'ACME-000001', company: 'acme', contract, subject: 'Help', articles: [article], from: article.from } as unknown as Ticket;
}

describe('ticketMailbox: the mailbox of a ticket\'s own mail', () => {
  it.each([
    ['contract with its own outbound: left to the resolver', 'own', 'desk', null],
    ['contract without outbound: the inbound mailbox, which can send', 'plain', 'desk', 'desk'],
    ['no contract: the inbound mailbox too', null, 'desk', 'desk'],
    ['the inbound mailbox cannot send: left to the resolver (global default)', 'plain', 'readonly', null],
    ['unknown mailbox: left to the resolver', 'plain', 'gone', null],
  ] as const)('%s', (_name, contract, inbound, expected) => {
    expect(ticketMailbox(snap, 'acme', contract, inbound)).toBe(expected);
  });
});

describe('ticketReply', () => {
  const via = (t: Ticket, body = {}) => {
    const r = ticketReply(snap, t, body, null);
    return resolveSender(snap, { company: r.company ?? undefined, ...(r.contract && { contract: r.contract }), ...(r.mailbox && { mailbox: r.mailbox }), kind: r.kind }).label;
  };

  it('goes through the mailbox the ticket came in on when the contract has no outbound (as the acknowledgement does)', () => {
    expect(ticketReply(snap, ticket('plain', 'desk'), {}, null).mailbox).toBe('desk');
    expect(via(ticket('plain', 'desk'))).toBe('desk');
  });

  it('the contract mailbox, an explicit mailbox, and the global default when the inbound mailbox cannot send', () => {
    expect(via(ticket('own', 'desk'))).toBe('contract-box');
    expect(via(ticket('plain', 'desk'), { mailbox: 'contract-box' })).toBe('contract-box');
    expect(via(ticket('plain', 'readonly'))).toBe('default');
  });

  it('rejects CR/LF in the subject (400, field subject) instead of folding it into a space', () => {
    for (const subject of ['Hi\r\nBcc: everyone@victim.example', 'Hi\nthere', 'Hi\rthere']) {
      let err: unknown;
      try {
        ticketReply(snap, ticket('plain', 'desk'), { subject }, null);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SubmitError);
      expect(err).toMatchObject({ status: 400, field: 'subject', message: 'subject must not contain CR or LF' });
    }
    expect(ticketReply(snap, ticket('plain', 'desk'), { subject: 'Re:  spaced\tout' }, null).subject).toBe('Re: spaced out [ACME-000001]');
  });
});
