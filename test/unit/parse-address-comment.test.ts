// A comment inside an address must not shorten it: nodemailer ≤ 10.4.0 (bundled by mailparser 3.14.2)
// parsed `victim@acme.example (x).evil.example` as `victim@acme.example`, so a `from:` route on
// acme.example matched mail from evil.example and the acknowledgement went to the victim. The address
// goes through the real parser, the real route matcher and the real acknowledgement decision.
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/ingest/parse.js';
import { routeMatches } from '../../src/ingest/route.js';
import { ackDecision } from '../../src/outbound/acknowledge.js';
import { BASE, MONDAY_10_SP, snapshotOf } from '../fixtures/routing/support.js';

const HOSTILE = 'victim@acme.example (x).evil.example';
const eml = (headers: string) => Buffer.from(`${headers}\r\nTo: desk@acme.example\r\nSubject: hello\r\nMessage-ID: <m1@evil.example>\r\nDate: Mon, 04 May 2026 12:00:00 +0000\r\n\r\nbody\r\n`);

const snap = snapshotOf({
  companies: { ...BASE.companies, acme: { ...BASE.companies.acme, acknowledge: { subject: 'Received [{{ticket.id}}]', text: 'Thanks' } } },
  routes: [
    { name: 'acme-domain', match: { from: '@acme.example' } },
    { name: 'acme-victim', match: { from: 'victim@acme.example' } },
  ],
});
const ack = (parsed: Awaited<ReturnType<typeof parseMessage>>) => ackDecision(snap, { ticketId: 'ACME-000001', company: 'acme', contract: 'main', mailbox: 'desk', parsed, flags: [] });

describe('an address with a comment inside it', () => {
  it('From: keeps the whole domain; no acme.example route matches; the acknowledgement does not go to acme.example', async () => {
    const parsed = await parseMessage(eml(`From: ${HOSTILE}`));
    expect(parsed.from?.address).toBe('victim@acme.example.evil.example');
    for (const route of snap.routes) expect(routeMatches(snap, route, 'desk', parsed, MONDAY_10_SP), route.name).toBe(false);
    expect(ack(parsed)).toEqual({ to: 'victim@acme.example.evil.example' });
  });

  it('Reply-To: the acknowledgement recipient is not shortened to the victim', async () => {
    const parsed = await parseMessage(eml(`From: Someone <someone@cliente.example>\r\nReply-To: ${HOSTILE}`));
    expect(parsed.replyTo.map((a) => a.address)).toEqual(['victim@acme.example.evil.example']);
    expect(ack(parsed)).toEqual({ to: 'victim@acme.example.evil.example' });
  });
});
