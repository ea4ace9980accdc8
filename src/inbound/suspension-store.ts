// The daemon's one suspension state, durable in `<store.path>/suspensions.json` (suspension.ts says
// when a mailbox is suspended and resumed; this file only keeps the records and tells the watchers).
// The records' credential fingerprints are keyed with `<store.path>/fingerprint.key` (random, 0600,
// created on first open; credential-fingerprint.ts).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mkdirDurable, readTextIfExists, writeFileDurable } from '../store/durable-file.js';
import { idMap, own } from '../config/id-map.js';
import { isKeyedFingerprint, type FingerprintKey } from './credential-fingerprint.js';
import type { SuspensionRecord } from './suspension.js';

export type SuspensionListener = (mailbox: string, record: SuspensionRecord | null) => void;

interface SuspensionFile {
  version: 1;
  /** Only while records of an older version (salted SHA-256 fingerprints) remain. */
  salt?: string;
  mailboxes: Record<string, SuspensionRecord>;
}

/** The install's fingerprint key: read, or made (32 random bytes, hex, 0600) when there is none. */
async function loadFingerprintKey(storePath: string): Promise<Buffer> {
  const file = join(storePath, 'fingerprint.key');
  const text = await readTextIfExists(file);
  if (text === null) {
    const key = randomBytes(32);
    await mkdirDurable(storePath);
    await writeFileDurable(file, key.toString('hex') + '\n');
    return key;
  }
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file} is not a fingerprint key (64 hex digits): remove it to make a new one (suspended mailboxes then resume)`);
  return Buffer.from(hex, 'hex');
}

/**
 * Suspended mailboxes, durable in `<store.path>/suspensions.json`. It is the one suspension state
 * of the daemon: the poller of a mailbox and the outbox's lane of the same mailbox both watch it, so
 * a suspension (or a resume) by either side holds for both.
 */
export class SuspensionStore {
  private listeners = new Set<SuspensionListener>();
  readonly key: FingerprintKey;

  private constructor(private file: string, private data: SuspensionFile, key: Buffer) {
    this.key = { kind: 'hmac', key };
  }

  static async open(storePath: string): Promise<SuspensionStore> {
    const file = join(storePath, 'suspensions.json');
    const text = await readTextIfExists(file);
    const parsed = text ? (JSON.parse(text) as { version?: number; salt?: string; mailboxes?: Record<string, SuspensionRecord> }) : null;
    // Prototype-less: looked up by ids from the API (POST /v1/mailboxes/__proto__/resume is no mailbox).
    const mailboxes = idMap<SuspensionRecord>(parsed?.version === 1 ? Object.entries(parsed.mailboxes ?? {}) : []);
    const data: SuspensionFile = { version: 1, mailboxes };
    if (parsed?.salt && Object.values(data.mailboxes).some((r) => !isKeyedFingerprint(r.credentials))) data.salt = parsed.salt;
    return new SuspensionStore(file, data, await loadFingerprintKey(storePath));
  }

  /**
   * Are the credentials those `r` was recorded with? `fp` computes the fingerprint now, with the key
   * given (null: nothing to compare, e.g. the mailbox left the config). A record of an older version
   * is compared with its salted hash: unchanged credentials keep it suspended (re-recorded keyed, so
   * the salted hash leaves the disk), changed ones resume it, as they always did.
   */
  async sameCredentials(r: SuspensionRecord, fp: (k: FingerprintKey) => Promise<string> | null): Promise<boolean | null> {
    const salt = this.data.salt;
    if (isKeyedFingerprint(r.credentials) || salt === undefined) {
      const now = await fp(this.key);
      return now === null ? null : now === r.credentials;
    }
    const old = await fp({ kind: 'legacy-salt', salt });
    if (old === null) return null;
    if (old !== r.credentials) return false;
    const keyed = await fp(this.key);
    if (keyed === null) return true;
    r.credentials = keyed;
    this.dropUnusedSalt();
    await this.save().catch(() => undefined); // kept in memory; the next save writes it
    return true;
  }

  get(mailbox: string): SuspensionRecord | null {
    return own(this.data.mailboxes, mailbox) ?? null;
  }

  all(): SuspensionRecord[] {
    return Object.values(this.data.mailboxes);
  }

  /** Called (synchronously, in-memory state already changed) on every set and delete; returns the unsubscribe. */
  watch(fn: SuspensionListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async set(r: SuspensionRecord): Promise<void> {
    this.data.mailboxes[r.mailbox] = r;
    this.dropUnusedSalt();
    this.emit(r.mailbox, r);
    await this.save();
  }

  async delete(mailbox: string): Promise<void> {
    if (!Object.hasOwn(this.data.mailboxes, mailbox)) return;
    delete this.data.mailboxes[mailbox];
    this.dropUnusedSalt();
    this.emit(mailbox, null);
    await this.save();
  }

  /** The old salt goes with the last record that needed it. */
  private dropUnusedSalt(): void {
    if (this.all().every((x) => isKeyedFingerprint(x.credentials))) delete this.data.salt;
  }

  private emit(mailbox: string, r: SuspensionRecord | null): void {
    for (const fn of [...this.listeners]) fn(mailbox, r);
  }

  private writing: Promise<void> = Promise.resolve();
  private save(): Promise<void> {
    this.writing = this.writing.catch(() => undefined).then(() => writeFileDurable(this.file, JSON.stringify(this.data, null, 1) + '\n'));
    return this.writing;
  }
}
