// Per-ticket order, decided purely. Deliveries of one webhook for one ticket go one at a time, in
// article order (article numbers grow in the order the store committed them, so this holds across
// restarts and replays, whatever order the queue's maps hold them in). A dead letter blocks the
// later deliveries of its ticket: sending an article.created the receiver cannot attach to a ticket
// it never got would break the order; they wait until it is replayed (and then go after it).
export interface Ordered {
  webhook: string;
  ticketId: string;
  articleNo: number;
}

export function ticketKey(d: { webhook: string; ticketId: string }): string {
  return `${d.webhook}\0${d.ticketId}`;
}

/**
 * Of the pending deliveries, the one per webhook+ticket that may be tried now (its oldest), and
 * those blocked behind an older dead letter of the same ticket. O(pending); heads keep the order in
 * which their tickets first appear in `pending` (fairness across tickets).
 */
export function planTicketOrder<T extends Ordered>(pending: Iterable<T>, oldestDead: (ticketKey: string) => number | undefined): { heads: T[]; blocked: T[] } {
  const head = new Map<string, T>();
  const blocked: T[] = [];
  for (const d of pending) {
    const key = ticketKey(d);
    const dead = oldestDead(key);
    if (dead !== undefined && dead < d.articleNo) {
      blocked.push(d);
      continue;
    }
    const cur = head.get(key);
    if (!cur || d.articleNo < cur.articleNo) head.set(key, d);
  }
  return { heads: [...head.values()], blocked };
}
