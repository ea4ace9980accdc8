// The OAuth2 manager of the running daemon, where the mail clients find it: credentials.ts gets its
// access-token provider (IMAP, POP3, the first SMTP token) and the SMTP pool asks it directly so
// nodemailer can renew a refused or expiring token on a pooled connection.
import { setAccessTokenProvider } from '../inbound/credentials.js';
import type { OAuthManager } from './manager.js';

let active: OAuthManager | null = null;

export function useOAuthManager(m: OAuthManager | null): void {
  active = m;
  setAccessTokenProvider(m ? m.provider : null);
}

/** Unregister `m` if it is still the active one (a daemon stopping after another started). */
export function releaseOAuthManager(m: OAuthManager | null): void {
  if (m && active === m) useOAuthManager(null);
}

export function activeOAuthManager(): OAuthManager | null {
  return active;
}
