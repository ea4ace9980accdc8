// One token cache per mailbox: access tokens per grant and scope (inbound and outbound may ask for
// different scopes), handed out until shortly before they expire, then refreshed. Concurrent callers
// share one refresh (single flight) and a mailbox runs one refresh at a time (a rotating provider
// must see each refresh token once). A rotated refresh token is persisted before it is used. A
// permanent refusal is remembered for that exact grant so nobody hammers the endpoint with it; a
// changed secret or refresh token in the config is a different grant and is tried at once.
import { createHash } from 'node:crypto';
import type { ResolvedAuth, ResolvedOAuth2 } from '../config/snapshot.js';
import { readSecret, type SecretSource } from '../config/secret.js';
import { rememberSecrets } from '../observability/known-secrets.js';
import type { Logger } from '../observability/logger.js';
import { TokenEndpointError } from './token-errors.js';
import { requestToken, type TokenGrantInput, type TokenResponse } from './token-request.js';
import { grantId, type OAuthStateStore } from './token-state.js';

export interface AccessToken {
  token: string;
  /** Unix ms when the endpoint says it expires. */
  expiresAt: number;
  /** Unix ms after which mailroom asks for a new one (ahead of expiry). */
  refreshAt: number;
}

export interface TokenCacheDeps {
  state: OAuthStateStore;
  log: Logger;
  now?: () => number;
  request?: (input: TokenGrantInput, opts: { secrets?: string[] }) => Promise<TokenResponse>;
  /** Called after every token request (success or not): health and metrics follow. */
  onRequest?: (mailbox: string) => void;
}

/** Refresh this long before expiry: a fifth of the lifetime, at most 5 minutes (pure). */
export function refreshMargin(lifetimeMs: number): number {
  return Math.min(300_000, Math.max(0, lifetimeMs) / 5);
}

const DEFAULT_LIFETIME_S = 3600;

async function secretValue(src: SecretSource | null, what: string): Promise<string | null> {
  if (!src) return null;
  try {
    return (await readSecret(src)).reveal();
  } catch (e) {
    throw new TokenEndpointError(`auth.oauth2.${what}: ${(e as Error).message}`, 'config');
  }
}

export class MailboxTokens {
  private tokens = new Map<string, AccessToken>();
  private inFlight = new Map<string, Promise<AccessToken>>();
  private failed = new Map<string, TokenEndpointError>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(readonly mailbox: string, private deps: TokenCacheDeps) {
    this.now = deps.now ?? Date.now;
  }

  async get(auth: ResolvedAuth, opts: { renew?: boolean } = {}): Promise<AccessToken> {
    const o = auth.oauth2;
    if (!o) throw new TokenEndpointError(`mailbox ${this.mailbox} has no auth.oauth2`, 'config');
    const clientSecret = await secretValue(o.clientSecret, 'clientSecret');
    const configured = o.flow === 'refresh_token' ? await secretValue(o.refreshToken, 'refreshToken') : null;
    const key = createHash('sha256').update(JSON.stringify([o.flow, o.tokenUrl, o.clientId, o.scope, auth.user, clientSecret, configured])).digest('hex');
    const failed = this.failed.get(key);
    if (failed) throw failed;
    const hit = this.tokens.get(key);
    if (opts.renew && hit) this.tokens.delete(key);
    else if (hit && this.now() < hit.refreshAt) return hit;
    const running = this.inFlight.get(key);
    if (running) return running;
    // one refresh at a time per mailbox here (serial) and across replicas (exclusive): the refresh
    // token is read inside, so it is the one the last refresh stored, never one rotated away
    const p = this.serial(() => this.deps.state.exclusive(this.mailbox, () => this.refresh(key, o, auth.user, clientSecret, configured)));
    this.inFlight.set(key, p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** The server refused a token: forget the cached ones so the next connection gets a fresh one. */
  invalidate(): void {
    this.tokens.clear();
  }

  /** Forget everything, remembered refusals included (resume). */
  forget(): void {
    this.tokens.clear();
    this.failed.clear();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.catch(() => undefined).then(fn);
    this.chain = next;
    return next;
  }

  private async refresh(key: string, o: ResolvedOAuth2, user: string, clientSecret: string | null, configured: string | null): Promise<AccessToken> {
    const started = this.now();
    const gid = configured !== null ? grantId(o, user, configured) : null;
    const grant = gid ? (await this.deps.state.load(this.mailbox)).grants[gid] : undefined;
    const presented = grant?.refreshToken ?? configured;
    const secrets = [clientSecret, configured, presented].filter((s): s is string => Boolean(s));
    rememberSecrets(this.mailbox, ...secrets);
    let res: TokenResponse;
    try {
      res = await (this.deps.request ?? requestToken)({ oauth2: o, clientSecret, refreshToken: presented, user }, { secrets });
    } catch (err) {
      const e = err instanceof TokenEndpointError ? err : new TokenEndpointError('token request failed', 'server');
      if (e.permanent) this.failed.set(key, e);
      this.deps.log.warn({ mailbox: this.mailbox, flow: o.flow, kind: e.kind, error: e.oauthError, code: e.providerCode, status: e.status, message: e.message }, 'oauth2 token request failed');
      this.deps.onRequest?.(this.mailbox);
      throw e;
    }
    rememberSecrets(this.mailbox, res.accessToken, res.refreshToken);
    const now = this.now();
    const lifetime = (res.expiresIn ?? DEFAULT_LIFETIME_S) * 1000;
    const token: AccessToken = { token: res.accessToken, expiresAt: started + lifetime, refreshAt: started + lifetime - refreshMargin(lifetime) };
    const rotated = res.refreshToken !== null && res.refreshToken !== presented;
    if (gid && presented && (!grant || rotated || res.refreshTokenExpiresIn !== null)) {
      const at = new Date(now).toISOString();
      try {
        await this.deps.state.update(this.mailbox, (s) => {
          const prev = s.grants[gid];
          s.grants[gid] = {
            refreshToken: rotated ? res.refreshToken! : presented,
            issuedAt: rotated ? at : (prev?.issuedAt ?? at),
            expiresAt: res.refreshTokenExpiresIn !== null ? new Date(now + res.refreshTokenExpiresIn * 1000).toISOString() : rotated ? null : (prev?.expiresAt ?? null),
            rotations: (prev?.rotations ?? 0) + (rotated ? 1 : 0),
            updatedAt: at,
          };
        });
      } catch (err) {
        // Kept in memory (the state object was changed): it works until a restart, loudly.
        this.deps.log.error({ mailbox: this.mailbox, err: { message: (err as Error).message } }, 'oauth2 state could not be written: a rotated refresh token is only in memory');
      }
    }
    this.tokens.set(key, token);
    this.deps.log.info({ mailbox: this.mailbox, flow: o.flow, expiresInS: Math.round(lifetime / 1000), rotated }, 'oauth2 access token obtained');
    this.deps.onRequest?.(this.mailbox);
    return token;
  }
}
