// Which company, contract and ticket a message belongs to (pure over its lookups). Without routes a message
// belongs to its mailbox's contract and company; a mailbox shared by several companies is decided
// by the sender's domain, and mail no company claims lands in the fallback company, never nowhere.
import type { Snapshot } from '../config/snapshot.js';
import { classifyMessage, type LoopFlag, type SenderRate } from './classify.js';
import type { ParsedMessage } from './parsed-message.js';
import { evaluateRoutes } from './route.js';
import { findThreadIn, type ThreadLookups, type ThreadScope } from './thread.js';

/** The per-sender new-ticket cap's counter: per company and sender. */
export const senderRateKey = (company: string, sender: string): string => `${company}:${sender}`;
export const senderRateLimitOf = (snap: Snapshot, mailboxId: string): number => snap.mailboxes[mailboxId]?.inbound?.senderRateLimit ?? 20;

/**
 * Does the per-sender cap apply to this decision (a new ticket, or a tag reply from a stranger), and
 * with which counter? null when it does not. decide() with a senderRate asks exactly this.
 */
export function senderRateQuestion(input: Pick<DecideInput, 'snap' | 'mailboxId' | 'parsed'>, d: Pick<Decision, 'ticket' | 'threadTo' | 'flags'>): { key: string; limit: number } | null {
  const sender = input.parsed.from?.address;
  if (!sender || (d.threadTo && !d.flags.includes('thread-unverified-sender'))) return null;
  return { key: senderRateKey(d.ticket.company, sender), limit: senderRateLimitOf(input.snap, input.mailboxId) };
}

/** Company that receives mail no configured company claims (no owner and no fallbackCompany). */
export const UNASSIGNED_COMPANY = '_unassigned';

export interface TicketDecision {
  company: string;
  contract: string | null;
  prefix: string;
  status: 'open' | 'held' | 'dropped';
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

export interface OwnerDecision {
  company: string;
  contract: string | null;
  /** 'fallback' / 'unassigned': no company claims the sender (its reply may still be to one of theirs). */
  by: 'owner' | 'domain' | 'fallback' | 'unassigned';
  reason: string;
}

/** The contract through which `company` reads the mailbox, if any. */
const contractVia = (snap: Snapshot, company: string, mailboxId: string) =>
  Object.values(snap.companies[company]?.contracts ?? {}).find((k) => k.inbound.includes(mailboxId))?.id ?? null;

export function decideOwner(snap: Snapshot, mailboxId: string, parsed: Pick<ParsedMessage, 'from'>): OwnerDecision {
  const mb = snap.mailboxes[mailboxId];
  const owners = mb?.owners ?? [];
  const companies = [...new Set(owners.map((o) => o.company))];
  const contractOf = (company: string) => owners.find((o) => o.company === company)?.contract ?? null;
  if (companies.length === 1) return { company: companies[0]!, contract: contractOf(companies[0]!), by: 'owner', reason: `mailbox ${mailboxId} belongs to ${companies[0]}` };
  const domain = senderDomain(parsed);
  if (companies.length > 1 && domain) {
    // The most specific domain wins (br.acme.com over acme.com), whatever the order of the companies.
    let match: string | undefined;
    let best = -1;
    for (const c of companies)
      for (const d of snap.companies[c]?.domains ?? [])
        if ((domain === d || domain.endsWith(`.${d}`)) && d.length > best) (match = c), (best = d.length);
    if (match) return { company: match, contract: contractOf(match), by: 'domain', reason: `shared mailbox ${mailboxId}: sender domain ${domain} belongs to ${match}` };
  }
  const fallback = mb?.inbound?.fallbackCompany;
  if (fallback) return { company: fallback, contract: contractVia(snap, fallback, mailboxId), by: 'fallback', reason: `no company claims the sender: fallback ${fallback}` };
  return { company: UNASSIGNED_COMPANY, contract: null, by: 'unassigned', reason: `mailbox ${mailboxId} belongs to no company and has no fallbackCompany` };
}

export interface DecideInput {
  snap: Snapshot;
  mailboxId: string;
  parsed: ParsedMessage;
  now: Date;
  lookups?: ThreadLookups;
  senderRate?: Pick<SenderRate, 'hit'>;
}

/**
 * Why a ticket is held: the mailbox holds everything, a route said so, the per-sender cap, or a reply
 * to a rejected ticket (which reopens it as held).
 */
export type HoldCause = 'mailbox' | 'route' | 'sender-rate' | 'reply-to-rejected';

/**
 * 'thread-unverified-sender': joined a ticket by its subject tag only, from a sender not on it.
 * 'reply-to-rejected': a reply to a ticket a supervisor rejected; it reopens the ticket as held.
 */
export type DecisionFlag = LoopFlag | 'thread-unverified-sender' | 'reply-to-rejected';

/** A status change of the threaded ticket made with the new article, if the ticket still is `from`. */
export interface Reopen {
  from: 'rejected';
  to: 'held';
}

export interface Decision {
  ticket: TicketDecision;
  /** Existing ticket this message is a reply to (new article instead of a new ticket). */
  threadTo: string | null;
  /** The threaded ticket was rejected: the commit sets it back to held (see reopenRejected). */
  reopen: Reopen | null;
  flags: DecisionFlag[];
  /** Every cause of a 'held' status, kept for the article's flags (held:<cause>) and the log. */
  holds: HoldCause[];
  drop: string | null;
  /** `store`, `webhook:<id>` ... (default [store]). */
  deliver: string[];
  matchedRoutes: string[];
}

/** The whole decision for one message: owner, routes, loop flags, thread, hold. */
export function decide(input: DecideInput): Decision {
  const { snap, mailboxId, parsed, now } = input;
  const owner = decideOwner(snap, mailboxId, parsed);
  const routed = evaluateRoutes(snap, mailboxId, parsed, now);
  const reasons = [owner.reason];
  let companyId = owner.company;
  let contractId = owner.contract;
  if (routed.set.company && routed.set.company !== companyId) {
    companyId = routed.set.company;
    contractId = contractVia(snap, companyId, mailboxId);
    reasons.push(`route set company ${companyId}`);
  }
  if (routed.set.contract && routed.set.contract !== contractId) {
    // `set.contract` alone may name a contract of another company (the config check accepts any
    // company's contract then): the ticket follows the contract, never company X with Y's contract.
    const wanted = routed.set.contract;
    const holders = snap.companies[companyId]?.contracts[wanted] ? [] : Object.values(snap.companies).filter((c) => c.contracts[wanted]);
    if (holders.length === 1) {
      companyId = holders[0]!.id;
      reasons.push(`route set contract ${wanted} of company ${companyId}`);
    }
    if (snap.companies[companyId]?.contracts[wanted]) contractId = wanted;
    else reasons.push(`route set contract ${wanted}, which company ${companyId} does not have: ignored`);
  }
  const scope = (id: string): ThreadScope => ({ company: id, prefix: snap.companies[id]?.ticketPrefix ?? 'MAIL', domains: snap.companies[id]?.domains ?? [] });
  // A sender no company claims (a customer's colleague, a personal address) may still reply to a
  // ticket of any company sharing the mailbox: search each owner before the fallback, and let the
  // ticket decide the company. A company chosen by domain or by a route stays the only one searched.
  const unclaimed = (owner.by === 'fallback' || owner.by === 'unassigned') && routed.set.company === undefined && companyId === owner.company;
  const owners = [...new Set((snap.mailboxes[mailboxId]?.owners ?? []).map((o) => o.company))].filter((c) => c !== companyId);
  const scopes = unclaimed ? [...owners, companyId].map(scope) : [scope(companyId)];
  let thread = input.lookups ? findThreadIn(scopes, parsed, input.lookups) : null;
  if (thread && thread.company !== companyId) {
    reasons.push(`reply to a ticket of ${thread.company}: company ${thread.company}, not ${companyId}`);
    companyId = thread.company;
    contractId = contractVia(snap, companyId, mailboxId);
  }
  if (thread) reasons.push(`reply to ${thread.ticketId} (by ${thread.by})`);
  const company = snap.companies[companyId];
  const defaults = contractId ? (company?.contracts[contractId]?.ticket ?? {}) : {};
  const flags: DecisionFlag[] = classifyMessage(parsed);
  const prefix = company?.ticketPrefix ?? 'MAIL';
  if (thread?.unverifiedSender) {
    // A service desk keeps the customer's conversation in one place (a colleague or a second address
    // replying is common), so the article still joins; the flag tells the agent to check who wrote it.
    flags.push('thread-unverified-sender');
    reasons.push(`${parsed.from?.address || 'the sender'} is not on ${thread.ticketId} and not of the company's domains: marked thread-unverified-sender`);
  }
  if (routed.matched.length) reasons.push(`routes matched: ${routed.matched.join(', ')}`);
  if (flags.length) reasons.push(`marked ${flags.join(', ')}`);

  let status: TicketDecision['status'] = 'open';
  const holds: HoldCause[] = [];
  // Approval is for new requests: a reply joins its ticket as the ticket is (held or approved);
  // marking it held would hold nothing, since the ticket's status is what the queue and webhooks follow.
  const holdWanted = Boolean(snap.mailboxes[mailboxId]?.inbound?.hold) || routed.hold;
  const threadStatus = thread ? (input.lookups?.status?.(thread.ticketId) ?? undefined) : undefined;
  if (holdWanted && thread) {
    if (threadStatus !== 'rejected') reasons.push(`hold applies to new tickets: the reply joins ${thread.ticketId} as it is`);
  }
  else {
    if (snap.mailboxes[mailboxId]?.inbound?.hold) (status = 'held'), holds.push('mailbox'), reasons.push(`mailbox ${mailboxId} holds tickets for approval`);
    if (routed.hold) (status = 'held'), holds.push('route'), reasons.push('a route holds it for approval');
  }
  const limit = senderRateLimitOf(snap, mailboxId);
  // Guessable tags must not let a stranger bypass the cap by writing "Re: [ACME-000004]": their
  // articles count, and beyond the cap the mail becomes a new held ticket instead of an article.
  if ((!thread || thread.unverifiedSender) && parsed.from?.address && input.senderRate?.hit(senderRateKey(companyId, parsed.from.address), limit, now.getTime())) {
    if (thread) reasons.push(`not appended to ${thread.ticketId}: the sender is over the cap`);
    thread = null;
    status = 'held';
    holds.push('sender-rate');
    if (!flags.includes('loop')) flags.push('loop');
    reasons.push(`more than ${limit} new tickets from ${parsed.from.address} within an hour: held`);
  }
  if (routed.drop) reasons.push(`dropped: ${routed.drop}`);
  // (after the cap: a stranger over it gets a new held ticket instead, and no reopen)
  const reopen = thread && !routed.drop ? reopenRejected(threadStatus) : null;
  if (reopen) {
    status = 'held';
    holds.push('reply-to-rejected');
    flags.push('reply-to-rejected');
    reasons.push(`reply to ${thread!.ticketId}, which was rejected: reopened as held for a supervisor to decide again`);
  }
  const tags = [...new Set([...(defaults.tags ?? []), ...routed.set.tags])];
  const pick = <K extends 'type' | 'group' | 'priority'>(k: K) => routed.set[k] ?? defaults[k];
  const ticket: TicketDecision = {
    company: companyId,
    contract: contractId,
    prefix,
    status: routed.drop ? 'dropped' : status,
    ...(pick('type') !== undefined && { type: pick('type') }),
    ...(pick('group') !== undefined && { group: pick('group') }),
    ...(pick('priority') !== undefined && { priority: pick('priority') }),
    ...(tags.length && { tags }),
    ...(Object.keys(routed.fields).length && { fields: routed.fields }),
    reasons,
  };
  return { ticket, threadTo: thread?.ticketId ?? null, reopen, flags, holds: routed.drop ? [] : holds, drop: routed.drop, deliver: routed.deliver ?? ['store'], matchedRoutes: routed.matched };
}

/**
 * A reply to a rejected ticket reopens it as held, whatever the config says about approval today:
 * the rejection was a supervisor's decision about this conversation, so only a supervisor reverses
 * it (approve: the platform learns of the ticket then; reject: it is rejected again). Joining it
 * silently lost the reply; opening it would let anyone past a rejection by answering it. A dropped
 * reply (a route's `drop`) joins and leaves the ticket as it is.
 */
export function reopenRejected(status: string | undefined): Reopen | null {
  return status === 'rejected' ? { from: 'rejected', to: 'held' } : null;
}
