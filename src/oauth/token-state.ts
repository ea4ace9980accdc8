// mailroom's own OAuth2 state, one file per mailbox under `<store.path>/oauth/` (directory 0700,
// files 0600, written durably: temp file, fsync, rename, fsync dir). It holds the refresh token a
// provider rotated (the Git config keeps the initial one and is never written), when that token was
// issued (for the age warning), and which expiry warnings were already mailed. A grant is known by a
// fingerprint of token endpoint, client, user and the configured refresh token: a new token in the
// config starts afresh instead of using a rotated descendant of the old one.
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedOAuth2 } from '../config/snapshot.js';
import { fsyncDir, tempPathFor } from '../store/durable-file.js';

export interface GrantState {
  /** The newest refresh token (rotated by the provider, or the configured one). */
  refreshToken: string;
  /** When this refresh token was issued (or first seen, for the configured one). */
  issuedAt: string;
  /** When the provider said it expires (refresh_token_expires_in), or null. */
  expiresAt: string | null;
  rotations: number;
  updatedAt: string;
}

export interface MailboxOAuthState {
  version: 1;
  mailbox: string;
  grants: Record<string, GrantState>;
  /** Expiry warnings already mailed: `<credential>@<expiresAt>` → when. */
  notices: Record<string, string>;
}

/** Fingerprint of a delegated grant as configured (never stored with the secret itself). */
export function grantId(o: ResolvedOAuth2, user: string, configuredRefreshToken: string): string {
  return createHash('sha256').update(['mailroom-oauth-grant-v1', o.tokenUrl ?? '', o.clientId, user, configuredRefreshToken].join('\0')).digest('hex').slice(0, 32);
}

/** A file name for any mailbox id (ids are config keys; be safe anyway). */
export function stateFileName(mailbox: string): string {
  return `${mailbox.replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}.json`;
}

function empty(mailbox: string): MailboxOAuthState {
  return { version: 1, mailbox, grants: {}, notices: {} };
}

export class OAuthStateStore {
  readonly dir: string;
  private cache = new Map<string, MailboxOAuthState>();
  private writes = new Map<string, Promise<void>>();
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

  /** Change a mailbox's state and write it durably (writes of one mailbox are serialized). */
  async update(mailbox: string, change: (s: MailboxOAuthState) => void): Promise<void> {
    const state = await this.load(mailbox);
    change(state);
    const prev = this.writes.get(mailbox) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.write(mailbox, JSON.stringify(state, null, 1) + '\n'));
    this.writes.set(mailbox, next);
    await next;
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

  /** Wait for pending writes (shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.writes.values()].map((p) => p.catch(() => undefined)));
  }
}
