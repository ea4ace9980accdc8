// The daemon's one suspension state, durable in `<store.path>/suspensions.json` (suspension.ts says
// when a mailbox is suspended and resumed; this file only keeps the records and tells the watchers).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readTextIfExists, writeFileDurable } from '../store/durable-file.js';
import { idMap, own } from '../config/id-map.js';
import type { SuspensionRecord } from './suspension.js';

export type SuspensionListener = (mailbox: string, record: SuspensionRecord | null) => void;

/**
 * Suspended mailboxes, durable in `<store.path>/suspensions.json`. It is the one suspension state
 * of the daemon: the poller of a mailbox and the outbox's lane of the same mailbox both watch it, so
 * a suspension (or a resume) by either side holds for both.
 */
export class SuspensionStore {
  private listeners = new Set<SuspensionListener>();

  private constructor(private file: string, private data: { version: 1; salt: string; mailboxes: Record<string, SuspensionRecord> }) {}

  static async open(storePath: string): Promise<SuspensionStore> {
    const file = join(storePath, 'suspensions.json');
    const text = await readTextIfExists(file);
    const parsed = text ? (JSON.parse(text) as { version?: number; salt?: string; mailboxes?: Record<string, SuspensionRecord> }) : null;
    // Prototype-less: looked up by ids from the API (POST /v1/mailboxes/__proto__/resume is no mailbox).
    const mailboxes = idMap<SuspensionRecord>(parsed?.version === 1 ? Object.entries(parsed.mailboxes ?? {}) : []);
    const data = { version: 1 as const, salt: parsed?.salt ?? randomBytes(16).toString('hex'), mailboxes };
    return new SuspensionStore(file, data);
  }

  get salt(): string {
    return this.data.salt;
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
    this.emit(r.mailbox, r);
    await this.save();
  }

  async delete(mailbox: string): Promise<void> {
    if (!Object.hasOwn(this.data.mailboxes, mailbox)) return;
    delete this.data.mailboxes[mailbox];
    this.emit(mailbox, null);
    await this.save();
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
