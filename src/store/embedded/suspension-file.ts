// The embedded store's suspension records, durable in `<store.path>/suspensions.json`, and the
// install's fingerprint key, `<store.path>/fingerprint.key` (random, 0600, created on first open;
// credential-fingerprint.ts uses it). The daemon reads them through the store port's control part
// (inbound/suspension-store.ts keeps its cache over the port).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mkdirDurable, readTextIfExists, writeFileDurable } from '../durable-file.js';
import { idMap, own } from '../../config/id-map.js';
import { isKeyedFingerprint } from '../../inbound/credential-fingerprint.js';
import type { SuspensionRecord } from '../control-types.js';

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

/** Suspended mailboxes, durable in `<store.path>/suspensions.json`. */
export class SuspensionFileStore {
  private listeners = new Set<SuspensionListener>();

  private constructor(private file: string, private data: SuspensionFile, readonly key: Buffer) {}

  static async open(storePath: string): Promise<SuspensionFileStore> {
    const file = join(storePath, 'suspensions.json');
    const text = await readTextIfExists(file);
    const parsed = text ? (JSON.parse(text) as { version?: number; salt?: string; mailboxes?: Record<string, SuspensionRecord> }) : null;
    // Prototype-less: looked up by ids from the API (POST /v1/mailboxes/__proto__/resume is no mailbox).
    const mailboxes = idMap<SuspensionRecord>(parsed?.version === 1 ? Object.entries(parsed.mailboxes ?? {}) : []);
    const data: SuspensionFile = { version: 1, mailboxes };
    if (parsed?.salt && Object.values(data.mailboxes).some((r) => !isKeyedFingerprint(r.credentials))) data.salt = parsed.salt;
    return new SuspensionFileStore(file, data, await loadFingerprintKey(storePath));
  }

  /** The salt of records written by a version before keyed fingerprints, while any remain. */
  get legacySalt(): string | null {
    return this.data.salt ?? null;
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
