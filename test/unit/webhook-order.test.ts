// Pure webhook decisions: per-ticket order behind dead letters, what a held ticket's deliveries
// become, which redirects are followed.
import { describe, expect, it } from 'vitest';
import { fateForTicket } from '../../src/sinks/webhook/hold.js';
import { planTicketOrder, ticketKey } from '../../src/sinks/webhook/order.js';
import { redirectTarget } from '../../src/sinks/webhook/policy.js';

const d = (ticketId: string, articleNo: number, webhook = 'erp') => ({ webhook, ticketId, articleNo });

describe('planTicketOrder', () => {
  it('one head per webhook+ticket, the lowest article, whatever the order given', () => {
    const { heads, blocked } = planTicketOrder([d('T1', 3), d('T2', 1), d('T1', 2), d('T1', 2, 'crm')], () => undefined);
    expect(heads).toEqual([d('T1', 2), d('T2', 1), d('T1', 2, 'crm')]);
    expect(blocked).toEqual([]);
  });

  it('a dead letter blocks the later deliveries of its ticket on that webhook only', () => {
    const dead = new Map([[ticketKey(d('T1', 1)), 1]]);
    const { heads, blocked } = planTicketOrder([d('T1', 2), d('T1', 3), d('T1', 2, 'crm'), d('T2', 1)], (k) => dead.get(k));
    expect(blocked).toEqual([d('T1', 2), d('T1', 3)]);
    expect(heads).toEqual([d('T1', 2, 'crm'), d('T2', 1)]);
  });

  it('a replayed dead letter goes first again: only later ones are blocked by a still dead one', () => {
    const dead = new Map([[ticketKey(d('T1', 2)), 2]]);
    const { heads, blocked } = planTicketOrder([d('T1', 3), d('T1', 1)], (k) => dead.get(k));
    expect(heads).toEqual([d('T1', 1)]);
    expect(blocked).toEqual([d('T1', 3)]);
  });
});

it('fateForTicket: held waits, rejected and dropped are never sent, anything else goes', () => {
  expect(fateForTicket('held')).toBe('held');
  expect(fateForTicket('rejected')).toBe('cancelled');
  expect(fateForTicket('dropped')).toBe('cancelled');
  expect(fateForTicket('open')).toBe('pending');
  expect(fateForTicket(undefined)).toBe('pending');
});

it('redirectTarget: same protocol and host only', () => {
  const from = new URL('https://hooks.example:8443/in');
  expect(redirectTarget(from, '/in2')?.href).toBe('https://hooks.example:8443/in2');
  expect(redirectTarget(from, 'http://hooks.example:8443/in')).toBeNull(); // downgrade
  expect(redirectTarget(from, 'https://hooks.example/in')).toBeNull(); // other port: other host
  expect(redirectTarget(from, 'https://evil.example:8443/in')).toBeNull();
  expect(redirectTarget(from, 'ftp://hooks.example:8443/in')).toBeNull();
  expect(redirectTarget(from, null)).toBeNull();
  expect(redirectTarget(from, 'http://[bad')).toBeNull();
});
