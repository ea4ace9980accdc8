// Why this file exists: claims of a queue row by an owner for a time, kept in memory. The embedded
// store has one process, so a claim need not survive it: after a restart every row is unclaimed, as
// an expired claim would be. A shared store keeps the same rule in its rows (claim owner + expiry).
import { StoreError } from '../types.js';

export class Claims {
  readonly #byId = new Map<string, { owner: string; until: number }>();

  /** Held by another owner whose claim has not expired. */
  heldByOther(id: string, owner: string, now: number): boolean {
    const c = this.#byId.get(id);
    return c !== undefined && c.owner !== owner && c.until > now;
  }

  held(id: string, now: number): boolean {
    const c = this.#byId.get(id);
    return c !== undefined && c.until > now;
  }

  /** Claim the row (free, or its claim expired); true when an expired claim was taken over. */
  take(id: string, owner: string, until: number): boolean {
    const before = this.#byId.has(id);
    this.#byId.set(id, { owner, until });
    return before;
  }

  /** The owner settles its row: refused when another owner took it over after this one's claim expired. */
  settle(id: string, owner: string, now: number): void {
    if (this.heldByOther(id, owner, now)) throw new StoreError('claimed', `row ${id} is claimed by another owner`);
    this.#byId.delete(id);
  }

  release(ids: string[], owner: string): void {
    for (const id of ids) if (this.#byId.get(id)?.owner === owner) this.#byId.delete(id);
  }
}
