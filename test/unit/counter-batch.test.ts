// planHits/hitAnswers (the batch of counter hits PostgreSQL runs as one statement) against the
// meaning they promise: sequential hits, each forgetting the hits at or before its window start and
// counting the rest (the embedded store's Counters.hit). Random batches over a few keys, mixed
// windows and times, on top of stored hits; the answers and the hits left behind must agree.
import { expect, it } from 'vitest';
import { hitAnswers, planHits, type HitRequest } from '../../src/store/counter-batch.js';

/** The reference: hit() one by one on a map of key → hit times (as embedded/counters.ts). */
function sequential(stored: Map<string, number[]>, reqs: HitRequest[]): boolean[] {
  return reqs.map((r) => {
    const list = (stored.get(r.key) ?? []).filter((t) => r.now - t < r.windowMs);
    list.push(r.now);
    stored.set(r.key, list);
    return list.length > r.limit;
  });
}

/** The plan applied as the PostgreSQL statement does: count stored after since, prune, insert keep. */
function batched(stored: Map<string, number[]>, reqs: HitRequest[]): boolean[] {
  const plan = planHits(reqs);
  const counts = reqs.map((r, i) => (stored.get(r.key) ?? []).filter((t) => t > plan.since[i]!).length);
  for (const [key, upto] of plan.prune) stored.set(key, (stored.get(key) ?? []).filter((t) => t > upto));
  for (const h of plan.keep) stored.set(h.key, [...(stored.get(h.key) ?? []), h.at]);
  return hitAnswers(reqs, plan, counts);
}

function rng(seed: number): () => number {
  return () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

it('answers and leaves what sequential hits would, for random batches', () => {
  const r = rng(7);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  for (let round = 0; round < 500; round++) {
    const stored = new Map<string, number[]>();
    for (let i = 0; i < 10; i++) {
      const key = pick(['a', 'b', 'c']);
      stored.set(key, [...(stored.get(key) ?? []), Math.floor(r() * 200)].sort((x, y) => x - y));
    }
    const one = new Map([...stored].map(([k, v]) => [k, [...v]]));
    const two = new Map([...stored].map(([k, v]) => [k, [...v]]));
    let now = 200;
    for (let batch = 0; batch < 3; batch++) {
      const reqs: HitRequest[] = Array.from({ length: 1 + Math.floor(r() * 12) }, () => {
        now += pick([0, 0, 1, 5, 40]);
        return { key: pick(['a', 'b', 'c', 'd']), limit: pick([0, 1, 2, 4, 8]), windowMs: pick([10, 50, 100, 1000]), now };
      });
      expect(batched(two, reqs), `round ${round} batch ${batch}`).toEqual(sequential(one, reqs));
      for (const key of ['a', 'b', 'c', 'd']) expect([...(two.get(key) ?? [])].sort((x, y) => x - y)).toEqual([...(one.get(key) ?? [])].sort((x, y) => x - y));
    }
  }
});

it('an empty batch plans nothing', () => {
  expect(planHits([])).toEqual({ since: [], earlier: [], prune: new Map(), keep: [] });
});
