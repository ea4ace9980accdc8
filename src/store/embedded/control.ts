// Why this file exists: the embedded store's control port: suspensions (suspensions.json), OAuth
// token state (oauth/<mailbox>.json, compare-and-set by a version kept in memory: one process owns
// the store) and rate counters (counters.json).
import type { OAuthStateStore } from '../../oauth/token-state.js';
import type { SuspensionStore } from '../../inbound/suspension-store.js';
import type { MailboxOAuthState, SuspensionRecord } from '../control-types.js';
import type { ControlPort, SuspensionListener } from '../port.js';
import type { Counters } from './counters.js';

export class EmbeddedControl implements ControlPort {
  readonly #versions = new Map<string, number>();

  constructor(
    private readonly suspensionStore: SuspensionStore,
    private readonly oauth: OAuthStateStore,
    private readonly counters: Counters,
  ) {}

  async suspension(mailbox: string): Promise<SuspensionRecord | null> {
    return this.suspensionStore.get(mailbox);
  }

  async suspensions(): Promise<SuspensionRecord[]> {
    return this.suspensionStore.all();
  }

  setSuspension(r: SuspensionRecord): Promise<void> {
    return this.suspensionStore.set(r);
  }

  clearSuspension(mailbox: string): Promise<void> {
    return this.suspensionStore.delete(mailbox);
  }

  watchSuspensions(fn: SuspensionListener): () => void {
    return this.suspensionStore.watch(fn);
  }

  async oauthState(mailbox: string): Promise<{ state: MailboxOAuthState; version: number }> {
    const state = await this.oauth.load(mailbox);
    return { state: structuredClone(state), version: this.#versions.get(mailbox) ?? 0 };
  }

  async casOAuthState(mailbox: string, version: number, next: MailboxOAuthState): Promise<boolean> {
    if ((this.#versions.get(mailbox) ?? 0) !== version) return false;
    this.#versions.set(mailbox, version + 1);
    await this.oauth.update(mailbox, (s) => {
      s.grants = structuredClone(next.grants);
      s.notices = structuredClone(next.notices);
    });
    return true;
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<boolean> {
    return this.counters.hit(key, limit, windowMs, now);
  }
}
