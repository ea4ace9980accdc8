// Why this file exists: a POP3 mailbox that leaves mail on the server can hold 50k+ UIDLs; keeping
// them in meta.json would make every commit of every mailbox rewrite them. Each mailbox gets its own
// lowdb file (uidls/<name>-<hash>.json), rewritten only when that mailbox commits or prunes.
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { DurableJSONFile, type DurableWrite } from './durable-file.js';
import { StoreError } from './types.js';

export interface UidlFile {
  v: 1;
  mailbox: string;
  uidls: string[];
}

function fileNameFor(mailbox: string): string {
  const safe = mailbox.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  const hash = createHash('sha256').update(mailbox).digest('hex').slice(0, 12);
  return `${safe}-${hash}.json`;
}

export class UidlSets {
  readonly #sets = new Map<string, Set<string>>();
  readonly #dirty = new Set<string>();

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<UidlSets> {
    const u = new UidlSets(dir);
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
      const db = new Low<UidlFile | null>(new DurableJSONFile<UidlFile | null>(path.join(dir, name)), null);
      try {
        await db.read();
      } catch (e) {
        throw new StoreError('corrupt', (e as Error).message);
      }
      const data = db.data;
      if (!data || typeof data.mailbox !== 'string' || !Array.isArray(data.uidls)) continue;
      const set = u.#sets.get(data.mailbox) ?? new Set<string>();
      for (const x of data.uidls) set.add(x);
      u.#sets.set(data.mailbox, set);
    }
    return u;
  }

  has(mailbox: string, uidl: string): boolean {
    return this.#sets.get(mailbox)?.has(uidl) ?? false;
  }

  add(mailbox: string, uidl: string): boolean {
    let set = this.#sets.get(mailbox);
    if (!set) this.#sets.set(mailbox, (set = new Set()));
    if (set.has(uidl)) return false;
    set.add(uidl);
    this.#dirty.add(mailbox);
    return true;
  }

  /** A copy: callers may keep it across polls without seeing later changes. */
  values(mailbox: string): Set<string> {
    return new Set(this.#sets.get(mailbox) ?? []);
  }

  /** The mailboxes with a UIDL set (read-only, for `mailroom store import`). */
  mailboxes(): string[] {
    return [...this.#sets.keys()];
  }

  size(mailbox: string): number {
    return this.#sets.get(mailbox)?.size ?? 0;
  }

  /** Forget UIDLs not in `keep` (no longer on the server). Returns how many were forgotten. */
  prune(mailbox: string, keep: Set<string>): number {
    const set = this.#sets.get(mailbox);
    if (!set) return 0;
    let n = 0;
    for (const u of set) {
      if (!keep.has(u)) {
        set.delete(u);
        n++;
      }
    }
    if (n > 0) this.#dirty.add(mailbox);
    return n;
  }

  snapshot(): DurableWrite[] {
    const out: DurableWrite[] = [];
    for (const mailbox of this.#dirty) {
      const data: UidlFile = { v: 1, mailbox, uidls: [...(this.#sets.get(mailbox) ?? [])] };
      out.push({ path: path.join(this.dir, fileNameFor(mailbox)), data: JSON.stringify(data) });
    }
    this.#dirty.clear();
    return out;
  }
}
