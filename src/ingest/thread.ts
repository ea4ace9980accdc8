// Threading (pure over lookups): a reply joins its ticket by In-Reply-To / References matching a
// stored Message-ID of that company, else by the ticket tag in the subject ([ACME-000123]).
// A Message-ID is hard to guess; a tag is not (ids are sequential), so a tag match from a sender
// who is not on the ticket is still threaded but marked unverified (see decide.ts).
export interface ThreadLookups {
  findByMessageIds(company: string, ids: string[]): string | null;
  findTicket(id: string): { id: string; company: string } | null;
  /** A found ticket's status (a reply to a rejected ticket reopens it, see decide.ts); null: not known. */
  status?(ticketId: string): string | null;
  /** Lower-cased From/To/Cc addresses of the ticket's articles; null or absent: not known. */
  participants?(ticketId: string): readonly string[] | null;
}

export interface ThreadMatch {
  ticketId: string;
  by: 'references' | 'subject-tag';
  /** by subject tag, from a sender who is neither on the ticket nor of the company's domains */
  unverifiedSender?: true;
}

/** Ticket tags in a subject, upper-cased: some clients and people lower-case a subject ("re: [acme-000007]"),
 * and ids and prefixes are upper case only. */
export function subjectTags(subject: string): string[] {
  return [...subject.matchAll(/\[([A-Z][A-Z0-9]{1,11}-\d{6,})\]/gi)].map((m) => m[1]!.toUpperCase());
}

/** Whether `sender` took part in the ticket or writes from one of the company's domains (or a subdomain). */
export function senderOnTicket(sender: string | undefined, participants: readonly string[] | null, domains: readonly string[]): boolean {
  const s = (sender ?? '').toLowerCase();
  if (!s.includes('@')) return false;
  if (participants?.includes(s)) return true;
  const domain = s.slice(s.lastIndexOf('@') + 1);
  return domains.some((d) => domain === d.toLowerCase() || domain.endsWith(`.${d.toLowerCase()}`));
}

/** A company whose tickets a reply may join: its prefix for subject tags, its domains for the sender check. */
export interface ThreadScope {
  company: string;
  prefix: string;
  domains: readonly string[];
}

type ThreadableMessage = { inReplyTo: string[]; references: string[]; subject: string; from?: { address: string } | null };

export function findThread(company: string, prefix: string, msg: ThreadableMessage, lookups: ThreadLookups, domains: readonly string[] = []): ThreadMatch | null {
  const hit = findThreadIn([{ company, prefix, domains }], msg, lookups);
  if (!hit) return null;
  const { company: _company, ...match } = hit;
  return match;
}

/** Threading over several companies in order (a shared mailbox's owners, for a sender none of them
 * claims): references first in every company (hard to guess, so the stronger evidence), then
 * subject tags, each tag only in the company whose prefix it carries. */
export function findThreadIn(scopes: readonly ThreadScope[], msg: ThreadableMessage, lookups: ThreadLookups): (ThreadMatch & { company: string }) | null {
  const ids = [...msg.inReplyTo, ...msg.references];
  if (ids.length)
    for (const { company } of scopes) {
      const hit = lookups.findByMessageIds(company, ids);
      if (hit) return { ticketId: hit, by: 'references', company };
    }
  for (const tag of subjectTags(msg.subject)) {
    const scope = scopes.find((s) => tag.startsWith(`${s.prefix}-`));
    if (!scope) continue;
    const t = lookups.findTicket(tag);
    if (!t || t.company !== scope.company) continue;
    const verified = senderOnTicket(msg.from?.address, lookups.participants?.(t.id) ?? null, scope.domains);
    return { ticketId: t.id, by: 'subject-tag', company: scope.company, ...(!verified && { unverifiedSender: true as const }) };
  }
  return null;
}
