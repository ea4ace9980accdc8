// Why this file exists: the embedded store's rate counters (new tickets per sender per hour, and the
// like), kept in memory and persisted through lowdb to <store>/counters.json so a restart does not
// reset a loop guard. Written behind, at most every WRITE_EVERY_MS (the whole document is rewritten:
// a write per hit would cost an fsync and a re-encode per ticket): a counter is advisory, and a
// crash loses at most the hits of the last few seconds. close() writes what is pending.
import path from 'node:path';
import { Low } from 'lowdb';
import { DurableJSONFile } from '../durable-file.js';

interface CountersDoc {
  version: 1;
  /** key → hit times (epoch ms), oldest first, each list within its window */
  hits: Record<string, number[]>;
}

const MAX_KEYS = 100_000;
const WRITE_EVERY_MS = 5_000;

export class Counters {
  #dirty = false;
  /** keys in the document (counted, not Object.keys()'d per hit) */
  #keys = 0;
  #writing: Promise<void> | null = null;

  private constructor(private readonly db: Low<CountersDoc>) {}

  static async open(root: string): Promise<Counters> {
    const db = new Low<CountersDoc>(new DurableJSONFile<CountersDoc>(path.join(root, 'counters.json')), { version: 1, hits: Object.create(null) });
    await db.read();
    if (db.data?.version !== 1 || typeof db.data.hits !== 'object') db.data = { version: 1, hits: Object.create(null) };
    else db.data.hits = Object.assign(Object.create(null), db.data.hits);
    const c = new Counters(db);
    c.#keys = Object.keys(db.data.hits).length;
    return c;
  }

  hit(key: string, limit: number, windowMs: number, now: number): boolean {
    const hits = this.db.data.hits;
    const old = hits[key];
    const list = (old ?? []).filter((t) => now - t < windowMs);
    list.push(now);
    delete hits[key]; // re-insert: insertion order is the eviction order
    hits[key] = list;
    if (!old && ++this.#keys > MAX_KEYS) {
      for (const k in hits) {
        delete hits[k]; // the oldest key
        this.#keys--;
        break;
      }
    }
    this.#schedule();
    return list.length > limit;
  }

  /** Every key with its hit times (epoch ms, oldest first; read-only, for `mailroom store import`). */
  entries(): [string, number[]][] {
    return Object.entries(this.db.data.hits).map(([k, v]) => [k, [...v]]);
  }

  #timer: NodeJS.Timeout | null = null;

  #schedule(): void {
    this.#dirty = true;
    if (this.#timer || this.#writing) return;
    this.#timer = setTimeout(() => void this.#write(), WRITE_EVERY_MS);
    this.#timer.unref?.();
  }

  #write(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#writing ??= (async () => {
      while (this.#dirty) {
        this.#dirty = false;
        await this.db.write().catch(() => undefined);
      }
      this.#writing = null;
    })();
    return this.#writing;
  }

  /** Write what is pending now (shutdown). */
  async flush(): Promise<void> {
    if (this.#dirty || this.#timer) await this.#write();
    while (this.#writing) await this.#writing;
  }
}
