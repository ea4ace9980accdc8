// The append-only journal under load: compaction triggered by every update (as the webhook queue
// does) while appends keep arriving must neither lose a record, write to a replaced file, nor leak
// file handles.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Journal } from '../../src/store/journal.js';

type Row = { k: number; v: number };
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
process.on('warning', onWarning);
afterEach(() => void (warnings.length = 0));

async function replayed(file: string): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  const j = await Journal.open<Row>(file, (r) => seen.set(r.k, r.v));
  await j.close();
  return seen;
}

it('100k concurrent updates with a compaction attempt after each: every last value survives a reopen', async () => {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'journal-')), 'q.jsonl');
  const j = await Journal.open<Row>(file, () => undefined, { compactAfter: 200 });
  const state = new Map<number, number>();
  const live = () => [...state].map(([k, v]) => ({ k, v }));
  let compactions = 0;
  const writes: Promise<void>[] = [];
  for (let round = 0; round < 50; round++) {
    // Half the updates arrive all at once, half trickle in while earlier writes and compactions run.
    for (let i = 0; i < 2000; i++) {
      const row = { k: (round * 2000 + i) % 500, v: round * 2000 + i };
      state.set(row.k, row.v);
      writes.push(j.append(row));
      void j.maybeCompact(live, state.size).then((c) => void (compactions += c ? 1 : 0));
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
  }
  await Promise.all(writes);
  // Compactions ran between the group-commit cycles while the updates kept coming; one more once
  // they stopped leaves the live records only.
  await j.maybeCompact(live, state.size);
  await j.close();
  expect(compactions).toBeGreaterThan(0);
  expect(await replayed(file)).toEqual(state);
  // Compacted: far fewer lines than updates.
  expect((await readFile(file, 'utf8')).split('\n').length).toBeLessThan(20_000);
  await new Promise((r) => setTimeout(r, 50));
  if (global.gc) global.gc();
  expect(warnings.filter((w) => /file descriptor|EMFILE/i.test(w))).toEqual([]);
}, 60_000);

it('a second maybeCompact while one runs does nothing, and appends made meanwhile land in the new file', async () => {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'journal-')), 'q.jsonl');
  const j = await Journal.open<Row>(file, () => undefined, { compactAfter: 10 });
  for (let i = 0; i < 20; i++) await j.append({ k: i % 2, v: i });
  let calls = 0;
  const live = () => (calls++, [{ k: 0, v: 18 }, { k: 1, v: 19 }]);
  const first = j.maybeCompact(live, 2);
  const second = j.maybeCompact(live, 2);
  const during = j.append({ k: 0, v: 100 });
  expect(await second).toBe(false);
  expect(await first).toBe(true);
  await during;
  expect(calls).toBe(1);
  await j.close();
  expect(await replayed(file)).toEqual(new Map([[0, 100], [1, 19]]));
});
