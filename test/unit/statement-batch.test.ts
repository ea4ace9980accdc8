// Why this file exists: the PostgreSQL store's group commit of small writes (statement-batch.ts):
// alone when idle, together while one runs, bounded by count and weight, and one bad call never
// fails the calls it was batched with.
import { describe, expect, it } from 'vitest';
import { StatementBatch } from '../../src/store/postgres/statement-batch.js';

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe('StatementBatch', () => {
  it('sends a call alone when idle, and the calls made meanwhile together in the next flush', async () => {
    const flushes: number[][] = [];
    const g = gate();
    const b = new StatementBatch<number, number>(async (xs) => {
      flushes.push(xs);
      if (flushes.length === 1) await g.p;
      return xs.map((x) => x * 10);
    }, { max: 100 });
    const first = b.run(1);
    const rest = [2, 3, 4].map((x) => b.run(x));
    await Promise.resolve();
    expect(flushes).toEqual([[1]]);
    g.open();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(flushes).toEqual([[1], [2, 3, 4]]);
  });

  it('takes at most max calls, and stops adding calls once their weight reaches maxWeight (at least one)', async () => {
    const flushes: number[][] = [];
    const g = gate();
    const b = new StatementBatch<number, void>(async (xs) => {
      flushes.push(xs);
      if (flushes.length === 1) await g.p;
      return xs.map(() => undefined);
    }, { max: 3, weight: (x) => x, maxWeight: 10 });
    const all = [0, 1, 1, 1, 1, 6, 6, 50, 1].map((x) => b.run(x));
    g.open();
    await Promise.all(all);
    expect(flushes).toEqual([[0], [1, 1, 1], [1, 6, 6], [50], [1]]);
  });

  it('an Error outcome rejects that call only; a flush that throws is retried call by call, in order', async () => {
    const flushes: string[][] = [];
    const g = gate();
    const b = new StatementBatch<string, string>(async (xs) => {
      flushes.push(xs);
      if (flushes.length === 1) await g.p;
      if (xs.length > 1 && xs.includes('poison')) throw new Error('the whole statement failed');
      if (xs.length === 1 && xs[0] === 'poison') throw new Error('poison alone');
      return xs.map((x) => (x === 'refused' ? new Error('refused alone') : x.toUpperCase()));
    }, { max: 100 });
    const first = b.run('a');
    const results = ['b', 'poison', 'c', 'refused', 'd'].map((x) => b.run(x).catch((e: Error) => `rejected: ${e.message}`));
    g.open();
    expect(await first).toBe('A');
    expect(await Promise.all(results)).toEqual(['B', 'rejected: poison alone', 'C', 'rejected: refused alone', 'D']);
    expect(flushes).toEqual([['a'], ['b', 'poison', 'c', 'refused', 'd'], ['b'], ['poison'], ['c'], ['refused'], ['d']]);
  });

  it('a flush that returns the wrong number of outcomes fails its calls instead of resolving them wrongly', async () => {
    const b = new StatementBatch<number, number>(async () => [], { max: 10 });
    await expect(b.run(1)).rejects.toThrow(/0 outcomes for 1 calls/);
  });
});
