// The daemon's one suspension state, kept by the store (store port, control part); suspension.ts
// says when a mailbox is suspended and resumed. This keeps a copy in memory (the poller of a mailbox
// and the outbox's lane of the same mailbox both ask it synchronously), writes through to the store,
// and follows changes the store reports (another replica suspending or resuming a mailbox).
// The records' credential fingerprints are keyed with the install's key, which the store keeps.
import { idMap, own } from '../config/id-map.js';
import type { SuspensionRecord } from '../store/control-types.js';
import type { ControlPort } from '../store/port.js';
import { isKeyedFingerprint, type FingerprintKey } from './credential-fingerprint.js';

export type SuspensionListener = (mailbox: string, record: SuspensionRecord | null) => void;

export class SuspensionStore {
  private listeners = new Set<SuspensionListener>();
  private records = idMap<SuspensionRecord>();
  private unwatch: () => void;

  private constructor(
    private readonly control: ControlPort,
    readonly key: FingerprintKey,
    private legacySalt: string | null,
    records: SuspensionRecord[],
  ) {
    for (const r of records) this.records[r.mailbox] = r;
    // Changes made elsewhere (another replica; our own come back too and change nothing).
    this.unwatch = control.watchSuspensions((mailbox, r) => {
      const mine = own(this.records, mailbox) ?? null;
      if (JSON.stringify(mine) === JSON.stringify(r)) return;
      if (r) this.records[mailbox] = r;
      else delete this.records[mailbox];
      this.emit(mailbox, r);
    });
  }

  static async over(control: ControlPort): Promise<SuspensionStore> {
    const [records, key, salt] = await Promise.all([control.suspensions(), control.fingerprintKey(), control.legacyFingerprintSalt()]);
    return new SuspensionStore(control, { kind: 'hmac', key }, salt, records);
  }

  /**
   * Are the credentials those `r` was recorded with? `fp` computes the fingerprint now, with the key
   * given (null: nothing to compare, e.g. the mailbox left the config). A record of an older version
   * is compared with its salted hash: unchanged credentials keep it suspended (re-recorded keyed, so
   * the salted hash leaves the disk), changed ones resume it, as they always did.
   */
  async sameCredentials(r: SuspensionRecord, fp: (k: FingerprintKey) => Promise<string> | null): Promise<boolean | null> {
    const salt = this.legacySalt;
    if (isKeyedFingerprint(r.credentials) || salt === null) {
      const now = await fp(this.key);
      return now === null ? null : now === r.credentials;
    }
    const old = await fp({ kind: 'legacy-salt', salt });
    if (old === null) return null;
    if (old !== r.credentials) return false;
    const keyed = await fp(this.key);
    if (keyed === null) return true;
    r.credentials = keyed;
    if (this.all().every((x) => isKeyedFingerprint(x.credentials))) this.legacySalt = null;
    await this.control.setSuspension(r).catch(() => undefined); // kept in memory; the next write stores it
    return true;
  }

  get(mailbox: string): SuspensionRecord | null {
    return own(this.records, mailbox) ?? null;
  }

  all(): SuspensionRecord[] {
    return Object.values(this.records);
  }

  /** Called (synchronously, in-memory state already changed) on every change; returns the unsubscribe. */
  watch(fn: SuspensionListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async set(r: SuspensionRecord): Promise<void> {
    this.records[r.mailbox] = r;
    this.emit(r.mailbox, r);
    await this.control.setSuspension(r);
  }

  async delete(mailbox: string): Promise<void> {
    if (!Object.hasOwn(this.records, mailbox)) return;
    delete this.records[mailbox];
    this.emit(mailbox, null);
    await this.control.clearSuspension(mailbox);
  }

  close(): void {
    this.unwatch();
  }

  private emit(mailbox: string, r: SuspensionRecord | null): void {
    for (const fn of [...this.listeners]) fn(mailbox, r);
  }
}
