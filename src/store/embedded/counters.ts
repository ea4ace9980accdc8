// Why this file exists: the embedded store's rate counters (new tickets per sender per hour, and the
// like), kept in memory and persisted through lowdb to <store>/counters.json so a restart does not
// reset a loop guard. Written behind (coalesced, one durable write in flight): a counter is advisory,
// and a write per hit would cost an fsync per ticket; a crash loses at most the hits of the last write.
import path from 'node:path';
import { Low } from 'lowdb';
import { DurableJSONFile } from '../durable-file.js';

interface CountersDoc {
  version: 1;
  /** key → hit times (epoch ms), oldest first, each list within its window */
  hits: Record<string, number[]>;
}

const MAX_KEYS = 100_000;

export class Counters {
  #dirty = false;
  #writing: Promise<void> | null = null;

  private constructor(private readonly db: Low<CountersDoc>) {}

  static async open(root: string): Promise<Counters> {
    const db = new Low<CountersDoc>(new DurableJSONFile<CountersDoc>(path.join(root, 'counters.json')), { version: 1, hits: Object.create(null) });
    await db.read();
    if (db.data?.version !== 1 || typeof db.data.hits !== 'object') db.data = { version: 1, hits: Object.create(null) };
    else db.data.hits = Object.assign(Object.create(null), db.data.hits);
    return new Counters(db);
  }

  hit(key: string, limit: number, windowMs: number, now: number): boolean {
    const hits = this.db.data.hits;
    const list = (hits[key] ?? []).filter((t) => now - t < windowMs);
    list.push(now);
    delete hits[key]; // re-insert: insertion order is the eviction order
    hits[key] = list;
    const keys = Object.keys(hits);
    if (keys.length > MAX_KEYS) delete hits[keys[0]!];
    this.#schedule();
    return list.length > limit;
  }

  /** Every key with its hit times (epoch ms, oldest first; read-only, for `mailroom store import`). */
  entries(): [string, number[]][] {
    return Object.entries(this.db.data.hits).map(([k, v]) => [k, [...v]]);
  }

  #schedule(): void {
    this.#dirty = true;
    if (this.#writing) return;
    this.#writing = (async () => {
      while (this.#dirty) {
        this.#dirty = false;
        await this.db.write().catch(() => undefined);
      }
      this.#writing = null;
    })();
  }

  /** Wait for the pending write (shutdown). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }
}
