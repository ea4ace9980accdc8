// mailroom's own OAuth2 state per mailbox, kept by the store (store port, control part): the refresh
// token a provider rotated (the Git config keeps the initial one and is never written), when that
// token was issued (for the age warning), and which expiry warnings were already mailed. A grant is
// known by a fingerprint of token endpoint, client, user and the configured refresh token: a new
// token in the config starts afresh instead of using a rotated descendant of the old one.
// Writes are compare-and-set: a replica that read an older version reads again and retries, so no
// one ever overwrites a refresh token another rotated.
import { createHash } from 'node:crypto';
import type { ResolvedOAuth2 } from '../config/snapshot.js';
import type { GrantState, MailboxOAuthState } from '../store/control-types.js';
import type { ControlPort } from '../store/port.js';

export type { GrantState, MailboxOAuthState };

/** Fingerprint of a delegated grant as configured (never stored with the secret itself). */
export function grantId(o: ResolvedOAuth2, user: string, configuredRefreshToken: string): string {
  return createHash('sha256').update(['mailroom-oauth-grant-v1', o.tokenUrl ?? '', o.clientId, user, configuredRefreshToken].join('\0')).digest('hex').slice(0, 32);
}

const MAX_TRIES = 10;

export class OAuthStateStore {
  private writes = new Map<string, Promise<void>>();

  constructor(private readonly control: Pick<ControlPort, 'oauthState' | 'casOAuthState'> & Partial<Pick<ControlPort, 'oauthRefreshExclusive'>>) {}

  /** Run a refresh of this mailbox while no other replica runs one (see ControlPort.oauthRefreshExclusive). */
  exclusive<T>(mailbox: string, fn: () => Promise<T>): Promise<T> {
    return this.control.oauthRefreshExclusive ? this.control.oauthRefreshExclusive(mailbox, fn) : fn();
  }

  /** The mailbox's state as stored now (a copy). */
  async load(mailbox: string): Promise<MailboxOAuthState> {
    return (await this.control.oauthState(mailbox)).state;
  }

  /** Change a mailbox's state durably: read, change, compare-and-set (again if another writer came first). */
  async update(mailbox: string, change: (s: MailboxOAuthState) => void): Promise<void> {
    const prev = this.writes.get(mailbox) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(async () => {
      for (let i = 0; i < MAX_TRIES; i++) {
        const { state, version } = await this.control.oauthState(mailbox);
        change(state);
        if (await this.control.casOAuthState(mailbox, version, state)) return;
      }
      throw new Error(`OAuth2 state of mailbox ${mailbox}: ${MAX_TRIES} concurrent writers in a row`);
    });
    this.writes.set(mailbox, next);
    await next;
  }

  /** Wait for pending writes (shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.writes.values()].map((p) => p.catch(() => undefined)));
  }
}
