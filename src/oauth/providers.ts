// What mailroom knows about the big identity providers beyond their endpoints and scopes (those are
// in config/presets.ts): how long a refresh token lives, for the early warning.
const DAY = 86_400_000;

export interface ProviderTraits {
  name: 'microsoft' | 'google' | 'other';
  /**
   * Lifetime of a refresh token from the moment it was issued when the endpoint does not say
   * (refresh_token_expires_in). Microsoft: 90 days (a rotated token starts a new 90 days, so a
   * mailbox in use never comes near it; one the endpoint stops rotating does). Google: none by
   * default (time-limited grants send refresh_token_expires_in). Others: unknown.
   */
  refreshTokenMaxAgeMs: number | null;
}

export function providerTraits(tokenUrl: string | null): ProviderTraits {
  let host = '';
  try {
    host = tokenUrl ? new URL(tokenUrl.replace('{tenantId}', 'common')).hostname.toLowerCase() : '';
  } catch {
    host = '';
  }
  if (host === 'login.microsoftonline.com' || host === 'login.live.com' || host.endsWith('.microsoftonline.us') || host === 'login.partner.microsoftonline.cn')
    return { name: 'microsoft', refreshTokenMaxAgeMs: 90 * DAY };
  if (host === 'oauth2.googleapis.com' || host === 'accounts.google.com' || host === 'www.googleapis.com') return { name: 'google', refreshTokenMaxAgeMs: null };
  return { name: 'other', refreshTokenMaxAgeMs: null };
}
