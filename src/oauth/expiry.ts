// Early warning (pure): when will a mailbox's OAuth2 access break by itself? The client secret's
// `clientSecretExpires` date and the refresh token's age against its known lifetime give a date;
// within `warnMs` (14 days, like the MailroomCredentialExpiresSoon alert) the state is `warning`.
export const WARN_BEFORE_MS = 14 * 86_400_000;

export type CredentialState = 'ok' | 'warning' | 'expired';

export interface CredentialHealth {
  state: CredentialState;
  /** Which credential runs out first. */
  credential: 'clientSecret' | 'refreshToken';
  expiresAt: string;
  /** Negative once expired. */
  expiresInSeconds: number;
  message: string;
}

export interface ExpiryInput {
  /** `auth.oauth2.clientSecretExpires` (YYYY-MM-DD: the secret stops working at the start of that day, UTC). */
  clientSecretExpires: string | null;
  /** The refresh token in use: when it was issued (or first seen) and what is known of its lifetime. */
  refreshToken: { issuedAt: string; expiresAt: string | null; maxAgeMs: number | null } | null;
  warnMs?: number;
}

/** The date a credential stops working, or null when nothing is known. */
function candidates(i: ExpiryInput): { credential: CredentialHealth['credential']; at: number }[] {
  const out: { credential: CredentialHealth['credential']; at: number }[] = [];
  if (i.clientSecretExpires) {
    const at = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(i.clientSecretExpires) ? `${i.clientSecretExpires}T00:00:00Z` : i.clientSecretExpires);
    if (Number.isFinite(at)) out.push({ credential: 'clientSecret', at });
  }
  const r = i.refreshToken;
  if (r) {
    const stated = r.expiresAt ? Date.parse(r.expiresAt) : NaN;
    const aged = r.maxAgeMs !== null ? Date.parse(r.issuedAt) + r.maxAgeMs : NaN;
    const at = Math.min(...[stated, aged].filter(Number.isFinite));
    if (Number.isFinite(at)) out.push({ credential: 'refreshToken', at });
  }
  return out;
}

export function credentialHealth(i: ExpiryInput, now: number = Date.now()): CredentialHealth | null {
  const first = candidates(i).sort((a, b) => a.at - b.at)[0];
  if (!first) return null;
  const left = first.at - now;
  const state: CredentialState = left <= 0 ? 'expired' : left <= (i.warnMs ?? WARN_BEFORE_MS) ? 'warning' : 'ok';
  const what = first.credential === 'clientSecret' ? 'the OAuth2 client secret' : 'the OAuth2 refresh token';
  const days = Math.floor(Math.abs(left) / 86_400_000);
  const message =
    state === 'expired'
      ? `${what} expired ${days} day(s) ago: renew it with the identity provider and update the secret`
      : state === 'warning'
        ? `${what} expires in ${days} day(s): renew it with the identity provider before the mailbox stops working`
        : `${what} is valid for ${days} more day(s)`;
  return { state, credential: first.credential, expiresAt: new Date(first.at).toISOString(), expiresInSeconds: Math.round(left / 1000), message };
}

/** The earlier-breaking of two healths (a mailbox's inbound and outbound grants). */
export function worst(a: CredentialHealth | null, b: CredentialHealth | null): CredentialHealth | null {
  if (!a || !b) return a ?? b;
  return a.expiresInSeconds <= b.expiresInSeconds ? a : b;
}
