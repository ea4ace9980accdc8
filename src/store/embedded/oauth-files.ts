// The embedded store's OAuth2 state, one file per mailbox under `<store.path>/oauth/` (directory
// 0700, files 0600, written durably: temp file, fsync, rename, fsync dir). What it holds and why:
// src/oauth/token-state.ts, which reads and writes it through the store port.
import { chmod, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { MailboxOAuthState } from '../control-types.js';
import { fsyncDir, tempPathFor } from '../durable-file.js';
import { KeyedSerial } from '../keyed-serial.js';

/** A file name for any mailbox id (ids are config keys; be safe anyway). */
export function stateFileName(mailbox: string): string {
  return `${mailbox.replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}.json`;
}

function empty(mailbox: string): MailboxOAuthState {
  return { version: 1, mailbox, grants: {}, notices: {} };
}

export class OAuthFileStore {
  readonly dir: string;
  private cache = new Map<string, MailboxOAuthState>();
  private writes = new KeyedSerial();
  private ready: Promise<void> | null = null;

  constructor(storePath: string) {
    this.dir = join(storePath, 'oauth');
  }

  private ensureDir(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await chmod(this.dir, 0o700);
    })().catch((e: unknown) => {
      this.ready = null;
      throw e;
    });
    return this.ready;
  }

  async load(mailbox: string): Promise<MailboxOAuthState> {
    const hit = this.cache.get(mailbox);
    if (hit) return hit;
    let state = empty(mailbox);
    try {
      const parsed = JSON.parse(await readFile(join(this.dir, stateFileName(mailbox)), 'utf8')) as Partial<MailboxOAuthState>;
      if (parsed.version === 1 && parsed.mailbox === mailbox) state = { ...state, grants: parsed.grants ?? {}, notices: parsed.notices ?? {} };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read OAuth2 state of mailbox ${mailbox} (${(e as NodeJS.ErrnoException).code ?? 'invalid JSON'})`);
    }
    // Another load may have finished meanwhile: keep the first one so updates are never lost.
    const again = this.cache.get(mailbox);
    if (again) return again;
    this.cache.set(mailbox, state);
    return state;
  }

  /** Change a mailbox's state and write it durably (writes of one mailbox are serialized). */
  async update(mailbox: string, change: (s: MailboxOAuthState) => void): Promise<void> {
    const state = await this.load(mailbox);
    change(state);
    await this.writes.run(mailbox, () => this.write(mailbox, JSON.stringify(state, null, 1) + '\n'));
  }

  private async write(mailbox: string, text: string): Promise<void> {
    await this.ensureDir();
    const target = join(this.dir, stateFileName(mailbox));
    const tmp = tempPathFor(target);
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await fh.close();
    await rename(tmp, target);
    await fsyncDir(this.dir);
  }

  /** The state of every mailbox that has a file (read-only, for `mailroom store import`). */
  async all(): Promise<MailboxOAuthState[]> {
    const names = await readdir(this.dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    const out: MailboxOAuthState[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      let parsed: Partial<MailboxOAuthState>;
      try {
        parsed = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as Partial<MailboxOAuthState>;
      } catch {
        throw new Error(`cannot read OAuth2 state file ${join(this.dir, name)} (invalid JSON)`);
      }
      if (parsed.version !== 1 || typeof parsed.mailbox !== 'string' || stateFileName(parsed.mailbox) !== name) continue;
      out.push(await this.load(parsed.mailbox));
    }
    return out;
  }

  /** Wait for pending writes (shutdown). */
  async flush(): Promise<void> {
    await this.writes.idle();
  }
}

/**
 * Compare-and-set over the files: the version is kept in memory (one process owns the embedded
 * store), so a writer that read before another's write is refused and reads again.
 */
export class VersionedOAuthFiles {
  readonly #versions = new Map<string, number>();

  constructor(readonly files: OAuthFileStore) {}

  async oauthState(mailbox: string): Promise<{ state: MailboxOAuthState; version: number }> {
    const state = await this.files.load(mailbox);
    return { state: structuredClone(state), version: this.#versions.get(mailbox) ?? 0 };
  }

  async casOAuthState(mailbox: string, version: number, next: MailboxOAuthState): Promise<boolean> {
    if ((this.#versions.get(mailbox) ?? 0) !== version) return false;
    this.#versions.set(mailbox, version + 1);
    await this.files.update(mailbox, (s) => {
      s.grants = structuredClone(next.grants);
      s.notices = structuredClone(next.notices);
    });
    return true;
  }
}
