// Why this file exists: the shapes of the store's control state (suspensions, OAuth token state),
// shared by the store port, its implementations and the code that decides suspensions and refreshes
// tokens. No runtime code.

/** What status shows about a suspension. */
export interface SuspensionInfo {
  reason: string;
  /** The provider's or server's code: AADSTS50173, invalid_grant, AUTHENTICATIONFAILED ... */
  code: string | null;
  /** The OAuth2 error (invalid_grant, invalid_client) when the token endpoint refused. */
  error: string | null;
  source: 'token-endpoint' | 'server';
  at: string;
}

export interface SuspensionRecord extends SuspensionInfo {
  mailbox: string;
  /** Keyed fingerprint of the credentials the mailbox was suspended with (inbound/credential-fingerprint.ts). */
  credentials: string;
  notified: boolean;
}

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
