// Why this file exists: the embedded store's outbox port over the outbox journal (outbox-store.ts):
// idempotency keys, and a claimed queue whose claims live in memory (one process owns the store).
import type { OutboxStore } from '../outbox-store.js';
import { TERMINAL, type OutboxEntry } from '../outbox-types.js';
import type { ClaimRequest, OutboxPort, UnfinishedQuery } from '../port.js';
import { Claims } from './claims.js';

const due = (e: OutboxEntry, now: number) => !TERMINAL.has(e.status) && e.status !== 'sending' && (e.nextAttemptAt === null || Date.parse(e.nextAttemptAt) <= now);

export class EmbeddedOutbox implements OutboxPort {
  readonly #claims = new Claims();

  constructor(private readonly store: OutboxStore) {}

  async add(entry: OutboxEntry): Promise<{ entry: OutboxEntry; existing: boolean }> {
    if (entry.idempotencyKey) {
      const hit = this.store.findByIdempotencyKey(entry.company, entry.idempotencyKey);
      if (hit) return { entry: hit, existing: true };
    }
    await this.store.add(entry);
    return { entry, existing: false };
  }

  async get(id: string): Promise<OutboxEntry | null> {
    return this.store.get(id) ?? null;
  }

  async findByIdempotencyKey(company: string | null, key: string): Promise<OutboxEntry | null> {
    return this.store.findByIdempotencyKey(company, key) ?? null;
  }

  async claimDue(req: ClaimRequest): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    const takenOver: string[] = [];
    for (const e of this.store.entries()) {
      if (out.length >= req.limit) break;
      if (!due(e, req.now) || this.#claims.held(e.id, req.now)) continue;
      if (this.#claims.take(e.id, req.owner, req.now + req.ttlMs)) takenOver.push(e.id);
      out.push(e);
    }
    if (takenOver.length) req.onTakenOver?.(takenOver);
    return out;
  }

  async markPastEndOfData(id: string, attempt: number): Promise<void> {
    this.store.markPastEndOfData(id, attempt);
  }

  async settle(id: string, owner: string, patch: Partial<OutboxEntry>): Promise<void> {
    this.#claims.settle(id, owner, Date.now());
    await this.store.update(id, patch);
  }

  async release(ids: string[], owner: string): Promise<void> {
    this.#claims.release(ids, owner);
  }

  async unfinished(opts: UnfinishedQuery = {}): Promise<OutboxEntry[]> {
    return [...this.store.entries()].filter((e) => !(opts.live && TERMINAL.has(e.status)) && !opts.skip?.has(e.id));
  }
}
