// Threading (pure over lookups): a reply joins its ticket by In-Reply-To / References matching a
// stored Message-ID of that company, else by the ticket tag in the subject ([ACME-000123]).
export interface ThreadLookups {
  findByMessageIds(company: string, ids: string[]): string | null;
  findTicket(id: string): { id: string; company: string } | null;
}

export function subjectTags(subject: string): string[] {
  return [...subject.matchAll(/\[([A-Z][A-Z0-9]{1,11}-\d{6,})\]/g)].map((m) => m[1]!);
}

export function findThread(
  company: string,
  prefix: string,
  msg: { inReplyTo: string[]; references: string[]; subject: string },
  lookups: ThreadLookups,
): { ticketId: string; by: 'references' | 'subject-tag' } | null {
  const ids = [...msg.inReplyTo, ...msg.references];
  if (ids.length) {
    const hit = lookups.findByMessageIds(company, ids);
    if (hit) return { ticketId: hit, by: 'references' };
  }
  for (const tag of subjectTags(msg.subject)) {
    if (!tag.startsWith(`${prefix}-`)) continue;
    const t = lookups.findTicket(tag);
    if (t && t.company === company) return { ticketId: t.id, by: 'subject-tag' };
  }
  return null;
}
