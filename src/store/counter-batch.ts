// Why this file exists: what a batch of sliding-window counter hits means, worked out without a store
// (pure): the answers sequential hit() calls would give, each request seeing every hit recorded
// before it (stored ones and earlier ones of the same key in the batch), and the rows those calls
// would leave. A shared store (PostgreSQL) turns the plan into one statement per batch: it deletes
// `prune`, inserts `keep`, and counts, per request, the stored hits after `since[i]`.
//
// Sequential semantics, per key: a hit at `now` with window `w` first forgets the hits at or before
// now - w (for good: a later request of the same key with a wider window no longer sees them), counts
// the rest, then records itself. So request i counts the stored hits after the latest window start
// of its key's requests up to and including it, plus the batch's earlier hits of its key that no
// request between them and i forgot.

export interface HitRequest {
  key: string;
  limit: number;
  windowMs: number;
  /** epoch ms */
  now: number;
}

export interface HitPlan {
  /** per request: it counts the stored hits (before the batch) of its key with at > since[i] */
  since: number[];
  /** per request: the batch's earlier hits of its key that it counts */
  earlier: number[];
  /** per key: its stored hits at or before this are forgotten */
  prune: Map<string, number>;
  /** the batch's hits still recorded after the whole batch (rows to insert) */
  keep: { key: string; at: number; expiresAt: number }[];
}

export function planHits(reqs: readonly HitRequest[]): HitPlan {
  const since: number[] = [];
  const earlier: number[] = [];
  const prune = new Map<string, number>();
  const live = new Map<string, { at: number; expiresAt: number }[]>();
  for (const r of reqs) {
    const start = r.now - r.windowMs;
    const s = Math.max(prune.get(r.key) ?? start, start);
    prune.set(r.key, s);
    since.push(s);
    const list = (live.get(r.key) ?? []).filter((h) => h.at > start);
    earlier.push(list.length);
    list.push({ at: r.now, expiresAt: r.now + r.windowMs });
    live.set(r.key, list);
  }
  const keep = [...live].flatMap(([key, list]) => list.map((h) => ({ key, ...h })));
  return { since, earlier, prune, keep };
}

/** The answers, given per request how many stored hits after since[i] there are. */
export function hitAnswers(reqs: readonly HitRequest[], plan: HitPlan, stored: readonly number[]): boolean[] {
  return reqs.map((r, i) => stored[i]! + plan.earlier[i]! + 1 > r.limit);
}
