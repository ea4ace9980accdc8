// Which company, contract and ticket a message belongs to (pure). Without routing rules a message
// belongs to its mailbox's contract and company; a mailbox shared by several companies is decided
// by the sender's domain, and mail no company claims lands in the fallback company, never nowhere.
import type { Snapshot } from '../config/snapshot.js';
import type { ParsedMessage } from './parsed-message.js';

/** Company that receives mail no configured company claims (no owner and no fallbackCompany). */
export const UNASSIGNED_COMPANY = '_unassigned';

export interface TicketDecision {
  company: string;
  contract: string | null;
  prefix: string;
  status: 'open' | 'held';
  type?: string;
  group?: string;
  priority?: string;
  tags?: string[];
  fields?: Record<string, string>;
  /** Why it was decided so (for `mailroom route` and logs). */
  reasons: string[];
}

export function senderDomain(parsed: Pick<ParsedMessage, 'from'>): string | null {
  const address = parsed.from?.address ?? '';
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1).toLowerCase() : null;
}

export function decideOwner(snap: Snapshot, mailboxId: string, parsed: Pick<ParsedMessage, 'from'>): { company: string; contract: string | null; reason: string } {
  const mb = snap.mailboxes[mailboxId];
  const owners = mb?.owners ?? [];
  const companies = [...new Set(owners.map((o) => o.company))];
  const contractOf = (company: string) => owners.find((o) => o.company === company)?.contract ?? null;
  if (companies.length === 1) return { company: companies[0]!, contract: contractOf(companies[0]!), reason: `mailbox ${mailboxId} belongs to ${companies[0]}` };
  const domain = senderDomain(parsed);
  if (companies.length > 1 && domain) {
    const match = companies.find((c) => snap.companies[c]?.domains.some((d) => domain === d || domain.endsWith(`.${d}`)));
    if (match) return { company: match, contract: contractOf(match), reason: `shared mailbox ${mailboxId}: sender domain ${domain} belongs to ${match}` };
  }
  const fallback = mb?.inbound?.fallbackCompany;
  if (fallback) {
    const contract = Object.values(snap.companies[fallback]?.contracts ?? {}).find((k) => k.inbound.includes(mailboxId))?.id ?? null;
    return { company: fallback, contract, reason: `no company claims the sender: fallback ${fallback}` };
  }
  return { company: UNASSIGNED_COMPANY, contract: null, reason: `mailbox ${mailboxId} belongs to no company and has no fallbackCompany` };
}

export function decideTicket(snap: Snapshot, mailboxId: string, parsed: Pick<ParsedMessage, 'from'>): TicketDecision {
  const owner = decideOwner(snap, mailboxId, parsed);
  const company = snap.companies[owner.company];
  const defaults = owner.contract ? (company?.contracts[owner.contract]?.ticket ?? {}) : {};
  const hold = snap.mailboxes[mailboxId]?.inbound?.hold ?? false;
  return {
    company: owner.company,
    contract: owner.contract,
    prefix: company?.ticketPrefix ?? 'MAIL',
    status: hold ? 'held' : 'open',
    ...(defaults.type !== undefined && { type: defaults.type }),
    ...(defaults.group !== undefined && { group: defaults.group }),
    ...(defaults.priority !== undefined && { priority: defaults.priority }),
    ...(defaults.tags !== undefined && { tags: [...defaults.tags] }),
    reasons: [owner.reason, ...(hold ? [`mailbox ${mailboxId} holds tickets for approval`] : [])],
  };
}
