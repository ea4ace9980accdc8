// Which companies a mailbox belongs to, and whether a company's mail may leave through it (pure).
import { describe, expect, it } from 'vitest';
import { companyMailboxIds, mailboxOwners, maySendThrough } from '../../src/config/mailbox-ownership.js';
import type { MailroomConfig } from '../../src/config/types.generated.js';

const cfg = {
  version: 1,
  companies: {
    hq: { outbound: { mailbox: 'hq-out' }, contracts: { k: { inbound: ['hq-in'] } } },
    branch: { extends: 'hq', contracts: { b: { outbound: 'branch-out' } } },
    acme: { contracts: { a: { inbound: ['shared'], outbound: 'acme-out' } } },
    beta: { contracts: { b: { inbound: ['shared'] } } },
  },
  mailboxes: {},
} as unknown as MailroomConfig;

describe('mailbox ownership', () => {
  it("a company owns its outbound.mailbox (and the extended company's), its contracts' inbound and outbound mailboxes", () => {
    expect([...companyMailboxIds(cfg, 'branch')].sort()).toEqual(['branch-out', 'hq-out']);
    expect([...companyMailboxIds(cfg, 'hq')].sort()).toEqual(['hq-in', 'hq-out']);
    expect(mailboxOwners(cfg).get('shared')).toEqual(['acme', 'beta']);
    expect(mailboxOwners(cfg).get('platform')).toBeUndefined();
    expect(companyMailboxIds(cfg, 'constructor').size).toBe(0);
  });

  it('may send through: the global default, a platform mailbox, its own and shared ones; not only-other companies\' ones', () => {
    expect(maySendThrough(cfg, 'acme', null)).toBe(true);
    expect(maySendThrough(cfg, 'acme', 'platform')).toBe(true);
    expect(maySendThrough(cfg, 'acme', 'acme-out')).toBe(true);
    expect(maySendThrough(cfg, 'beta', 'shared')).toBe(true);
    expect(maySendThrough(cfg, 'branch', 'hq-out')).toBe(true);
    expect(maySendThrough(cfg, 'beta', 'acme-out')).toBe(false);
    expect(maySendThrough(cfg, 'hq', 'branch-out')).toBe(false);
    expect(maySendThrough(cfg, 'acme', 'hq-in')).toBe(false);
  });
});
