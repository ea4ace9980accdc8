// Which companies a mailbox belongs to, from the config alone (pure). A company owns the mailboxes
// its config names: its `outbound.mailbox` (and that of every company it extends) and its contracts'
// inbound and outbound mailboxes. A mailbox several companies name is shared by them; one that no
// company names is the platform's, like the global default: any company's mail may leave through it.
// The sender checks a scoped request against this (POST /v1/messages), `check` warns with it.
import type { Snapshot } from './snapshot.js';
import { own } from './id-map.js';
import { companyChain } from './outbound-layers.js';
import type { MailroomConfig } from './types.generated.js';

/** Mailboxes the config of `company` names (see the top of this file). */
export function companyMailboxIds(cfg: MailroomConfig, company: string): Set<string> {
  const out = new Set<string>();
  if (!own(cfg.companies, company)) return out;
  for (const id of companyChain(cfg, company)) {
    const o = own(cfg.companies, id)?.outbound as { mailbox?: string } | undefined;
    if (o?.mailbox) out.add(o.mailbox);
  }
  for (const k of Object.values(own(cfg.companies, company)?.contracts ?? {})) {
    if (k?.outbound) out.add(k.outbound);
    for (const m of k?.inbound ?? []) out.add(m);
  }
  return out;
}

const ownersCache = new WeakMap<MailroomConfig, Map<string, string[]>>();

/** mailbox id → the companies owning it (sorted); a mailbox no company names is absent. Memoised per config object. */
export function mailboxOwners(cfg: MailroomConfig): Map<string, string[]> {
  const hit = ownersCache.get(cfg);
  if (hit) return hit;
  const owners = new Map<string, string[]>();
  for (const company of Object.keys(cfg.companies ?? {}).sort())
    for (const mb of companyMailboxIds(cfg, company)) (owners.get(mb) ?? owners.set(mb, []).get(mb)!).push(company);
  ownersCache.set(cfg, owners);
  return owners;
}

/**
 * May mail of `company` leave through `mailbox` (null: the global default server)? Yes for the
 * global default, a platform mailbox (no company owns it) and the company's own or shared ones;
 * no for a mailbox that belongs only to other companies.
 */
export function maySendThrough(cfg: MailroomConfig, company: string, mailbox: string | null): boolean {
  if (mailbox === null) return true;
  const owners = mailboxOwners(cfg).get(mailbox);
  return !owners || owners.includes(company);
}

/** Mailboxes a company may name explicitly: those its config (extends chain included) refers to. */
export function companyMailboxes(snap: Snapshot, company: string): Set<string> {
  if (!own(snap.companies, company)) return new Set();
  const out = companyMailboxIds(snap.config, company);
  for (const mb of Object.values(snap.mailboxes)) if (mb.owners.some((o) => o.company === company)) out.add(mb.id);
  return out;
}

/** Companies told about a mailbox: those that read it, else those whose config sends through it. */
export function companiesOf(snap: Snapshot, mailbox: string): string[] {
  const owners = [...new Set(own(snap.mailboxes, mailbox)?.owners.map((o) => o.company) ?? [])];
  return owners.length ? owners : Object.keys(snap.companies).filter((c) => companyMailboxes(snap, c).has(mailbox));
}
