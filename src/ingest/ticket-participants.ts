// Who is on the tickets a subject names ([ACME-000123]): the From/To/Cc addresses of their articles,
// for findThread's check that a subject-tag reply comes from someone on the ticket. Async and kept
// out of decide(): only the store's getTicket has the articles (the in-memory indexes hold the first
// sender only), and it is asked only for tagged subjects, i.e. replies.
import type { Article, TicketStore } from '../store/index.js';
import { subjectTags } from './thread.js';

const MAX_TAGS = 4; // a subject full of tags must not make one message load many segments

export function articleAddresses(articles: readonly Pick<Article, 'from' | 'to' | 'cc'>[]): string[] {
  const out = new Set<string>();
  for (const a of articles) for (const x of [a.from, ...a.to, ...a.cc]) if (x?.address) out.add(x.address.toLowerCase());
  return [...out];
}

export async function tagParticipants(store: Pick<TicketStore, 'findByTicketId' | 'getTicket'>, subject: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const tag of [...new Set(subjectTags(subject))].slice(0, MAX_TAGS)) {
    if (!store.findByTicketId(tag)) continue;
    const t = await store.getTicket(tag);
    if (t) out.set(tag, articleAddresses(t.articles));
  }
  return out;
}
