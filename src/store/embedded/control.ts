// Why this file exists: the embedded store's control port: suspensions (suspensions.json), OAuth
// token state (oauth/<mailbox>.json, compare-and-set by a version kept in memory: one process owns
// the store) and rate counters (counters.json).
import type { VersionedOAuthFiles } from './oauth-files.js';
import type { SuspensionFileStore } from './suspension-file.js';
import type { MailboxOAuthState, SuspensionRecord } from '../control-types.js';
import type { ControlPort, HitRequest, SuspensionListener } from '../port.js';
import type { Counters } from './counters.js';
import { KeyedSerial } from '../keyed-serial.js';

export class EmbeddedControl implements ControlPort {
  readonly #refreshes = new KeyedSerial();

  constructor(
    private readonly suspensionStore: SuspensionFileStore,
    private readonly oauth: VersionedOAuthFiles,
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

  async fingerprintKey(): Promise<Buffer> {
    return this.suspensionStore.key;
  }

  async legacyFingerprintSalt(): Promise<string | null> {
    return this.suspensionStore.legacySalt;
  }

  oauthState(mailbox: string): Promise<{ state: MailboxOAuthState; version: number }> {
    return this.oauth.oauthState(mailbox);
  }

  casOAuthState(mailbox: string, version: number, next: MailboxOAuthState): Promise<boolean> {
    return this.oauth.casOAuthState(mailbox, version, next);
  }

  /** One process owns the store: refreshes of a mailbox run in order in it. */
  oauthRefreshExclusive<T>(mailbox: string, fn: () => Promise<T>): Promise<T> {
    return this.#refreshes.run(mailbox, fn);
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<boolean> {
    return this.counters.hit(key, limit, windowMs, now);
  }

  async hits(requests: readonly HitRequest[]): Promise<boolean[]> {
    return requests.map((r) => this.counters.hit(r.key, r.limit, r.windowMs, r.now));
  }
}
