// The daemon's OAuth2 side: one token cache per mailbox (inbound and outbound of a mailbox share it,
// the global default outbound is `default`), the access-token provider the IMAP, POP3 and SMTP
// clients call, and the early warning: a periodic sweep over the snapshot computes when each
// mailbox's client secret or refresh token runs out, exports it as
// mailroom_oauth_credential_expiry_seconds{mailbox}, keeps it for /v1/status, and mails a
// `credential-expiring` notice once per credential and date.
import type { ResolvedAuth, Snapshot } from '../config/snapshot.js';
import { readSecret } from '../config/secret.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { credentialHealth, worst, type CredentialHealth } from './expiry.js';
import { providerTraits } from './providers.js';
import { MailboxTokens, type AccessToken, type TokenCacheDeps } from './token-cache.js';
import { grantId, type OAuthStateStore } from './token-state.js';

export interface OAuthManagerOptions {
  /** the OAuth state (kept by the store) */
  state: OAuthStateStore;
  log: Logger;
  metrics?: Metrics;
  now?: () => number;
  warnMs?: number;
  request?: TokenCacheDeps['request'];
  /** Mail a `credential-expiring` notice; resolves true when it was queued. */
  onExpiring?: (mailbox: string, health: CredentialHealth) => Promise<boolean>;
}

/** Every (label, auth) pair of a snapshot that uses OAuth2: mailboxes (inbound and outbound) and `default`. */
export function oauthAuths(snap: Snapshot): { label: string; auth: ResolvedAuth }[] {
  const out: { label: string; auth: ResolvedAuth }[] = [];
  for (const mb of Object.values(snap.mailboxes)) {
    if (!mb.enabled) continue;
    if (mb.inbound && mb.auth?.oauth2) out.push({ label: mb.id, auth: mb.auth });
    if (mb.outbound?.auth?.oauth2) out.push({ label: mb.id, auth: mb.outbound.auth });
  }
  if (snap.defaultOutbound?.auth?.oauth2) out.push({ label: 'default', auth: snap.defaultOutbound.auth });
  return out;
}

export class OAuthManager {
  readonly state: OAuthStateStore;
  private caches = new Map<string, MailboxTokens>();
  private healths = new Map<string, CredentialHealth>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private opts: OAuthManagerOptions) {
    this.state = opts.state;
    this.now = opts.now ?? Date.now;
  }

  /** For credentials.ts's setAccessTokenProvider. */
  readonly provider = async (mailbox: string, auth: ResolvedAuth): Promise<string> => (await this.accessToken(mailbox, auth)).token;

  accessToken(mailbox: string, auth: ResolvedAuth, opts: { renew?: boolean } = {}): Promise<AccessToken> {
    return this.cache(mailbox).get(auth, opts);
  }

  /** The mail server refused a token of this mailbox: the next connection gets a new one. */
  invalidate(mailbox: string): void {
    this.caches.get(mailbox)?.invalidate();
  }

  /** Forget remembered refusals too (the mailbox is resumed by hand). */
  forget(mailbox: string): void {
    this.caches.get(mailbox)?.forget();
  }

  /** Last computed early-warning health of a mailbox, or null when nothing is known. */
  healthOf(mailbox: string): CredentialHealth | null {
    return this.healths.get(mailbox) ?? null;
  }

  private cache(mailbox: string): MailboxTokens {
    let c = this.caches.get(mailbox);
    if (!c) {
      c = new MailboxTokens(mailbox, {
        state: this.state,
        log: this.opts.log,
        now: this.now,
        ...(this.opts.request && { request: this.opts.request }),
        onRequest: (m) => void this.refreshHealth(m).catch(() => undefined),
      });
      this.caches.set(mailbox, c);
    }
    return c;
  }

  /** Expiry of one auth: the client secret date, and the refresh token's age once mailroom used it. */
  async health(mailbox: string, auth: ResolvedAuth): Promise<CredentialHealth | null> {
    const o = auth.oauth2;
    if (!o) return null;
    let refreshToken: { issuedAt: string; expiresAt: string | null; maxAgeMs: number | null } | null = null;
    if (o.flow === 'refresh_token' && o.refreshToken) {
      const configured = await readSecret(o.refreshToken).then((s) => s.reveal()).catch(() => null);
      const g = configured ? (await this.state.load(mailbox)).grants[grantId(o, auth.user, configured)] : undefined;
      if (g) refreshToken = { issuedAt: g.issuedAt, expiresAt: g.expiresAt, maxAgeMs: providerTraits(o.tokenUrl).refreshTokenMaxAgeMs };
    }
    return credentialHealth({ clientSecretExpires: o.clientSecretExpires, refreshToken, ...(this.opts.warnMs !== undefined && { warnMs: this.opts.warnMs }) }, this.now());
  }

  private snapshot: (() => Snapshot | null) | null = null;

  private async refreshHealth(mailbox: string): Promise<void> {
    const snap = this.snapshot?.();
    if (!snap) return;
    let h: CredentialHealth | null = null;
    for (const a of oauthAuths(snap)) if (a.label === mailbox) h = worst(h, await this.health(a.label, a.auth));
    this.setHealth(mailbox, h);
  }

  private setHealth(mailbox: string, h: CredentialHealth | null): void {
    const g = this.opts.metrics?.oauthCredentialExpiry;
    if (h) {
      this.healths.set(mailbox, h);
      g?.set({ mailbox }, h.expiresInSeconds);
    } else {
      this.healths.delete(mailbox);
      g?.remove({ mailbox });
    }
  }

  /** Recompute every mailbox's health, metric and notices; forget mailboxes no longer using OAuth2. */
  sweep(snap: Snapshot): Promise<void> {
    // A grant written after this call may belong to a newer snapshot: prune never touches it.
    const began = this.now();
    const run = async () => {
      const byLabel = new Map<string, CredentialHealth | null>();
      for (const a of oauthAuths(snap)) {
        const h = await this.health(a.label, a.auth).catch(() => null);
        byLabel.set(a.label, worst(byLabel.get(a.label) ?? null, h));
      }
      for (const label of [...this.healths.keys()]) if (!byLabel.has(label)) this.setHealth(label, null);
      for (const [label, h] of byLabel) {
        this.setHealth(label, h);
        if (h && h.state !== 'ok') await this.notice(label, h);
      }
      for (const label of [...this.caches.keys()]) if (!byLabel.has(label)) this.caches.delete(label);
      await this.prune(snap, began);
    };
    this.sweeping = this.sweeping.catch(() => undefined).then(run);
    return this.sweeping;
  }

  /** Drop persisted refresh tokens of grants the config no longer names (a replaced refresh token). */
  private async prune(snap: Snapshot, began: number): Promise<void> {
    const keep = new Map<string, Set<string>>();
    for (const a of oauthAuths(snap)) {
      const o = a.auth.oauth2!;
      if (o.flow !== 'refresh_token' || !o.refreshToken) continue;
      const configured = await readSecret(o.refreshToken).then((s) => s.reveal()).catch(() => null);
      if (configured === null) return; // unreadable now: decide nothing
      const set = keep.get(a.label) ?? new Set<string>();
      set.add(grantId(o, a.auth.user, configured));
      keep.set(a.label, set);
    }
    for (const [label, ids] of keep) {
      const state = await this.state.load(label).catch(() => null);
      const stale = state ? Object.entries(state.grants).filter(([g, v]) => !ids.has(g) && Date.parse(v.updatedAt) < began).map(([g]) => g) : [];
      if (stale.length === 0) continue;
      await this.state
        .update(label, (s) => stale.forEach((g) => delete s.grants[g]))
        .then(() => this.opts.log.info({ mailbox: label, grants: stale.length }, 'oauth2 state: refresh tokens of replaced grants removed'))
        .catch((err: unknown) => this.opts.log.error({ mailbox: label, err: { message: (err as Error).message } }, 'oauth2 state could not be written'));
    }
  }

  private async notice(mailbox: string, h: CredentialHealth): Promise<void> {
    if (!this.opts.onExpiring) return;
    const key = `${h.credential}@${h.expiresAt.slice(0, 10)}`;
    const state = await this.state.load(mailbox);
    if (state.notices[key]) return;
    if (!(await this.opts.onExpiring(mailbox, h).catch(() => false))) return;
    await this.state
      .update(mailbox, (s) => {
        s.notices[key] = new Date(this.now()).toISOString();
      })
      .catch((err: unknown) => this.opts.log.error({ mailbox, err: { message: (err as Error).message } }, 'oauth2 state could not be written'));
  }

  /** Sweep now and every `intervalMs` (the timer does not keep the process alive). */
  start(snapshot: () => Snapshot | null, intervalMs = 300_000): void {
    this.snapshot = snapshot;
    const tick = () => {
      const s = snapshot();
      if (s) void this.sweep(s).catch((err: unknown) => this.opts.log.error({ err: { message: (err as Error).message } }, 'oauth2 health sweep failed'));
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping.catch(() => undefined);
    await this.state.flush();
  }
}
