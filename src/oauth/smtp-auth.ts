// nodemailer's OAuth2 auth for a pooled SMTP transport: every new connection asks the mailbox's token
// cache (so a token refreshed for IMAP is reused, and an expiring one is renewed ahead of time), and
// a token the server refused is renewed once (nodemailer calls back with renew = true).
import type { ResolvedAuth } from '../config/snapshot.js';
import { credentialsFor } from '../inbound/credentials.js';
import { activeOAuthManager } from './registry.js';

export interface NodemailerOAuth2 {
  type: 'OAuth2';
  user: string;
  provisionCallback: (user: string, renew: boolean, cb: (err: Error | null, accessToken?: string, expires?: number) => void) => void;
}

export function smtpOAuth2(label: string, auth: ResolvedAuth): NodemailerOAuth2 {
  return {
    type: 'OAuth2',
    user: auth.user,
    provisionCallback(_user, renew, cb) {
      const m = activeOAuthManager();
      const got = m
        ? m.accessToken(label, auth, { renew }).then((t) => ({ token: t.token, expires: t.refreshAt }))
        : credentialsFor(label, auth).then((c) => ({ token: 'accessToken' in c ? c.accessToken : '', expires: undefined }));
      got.then(
        (t) => cb(null, t.token, t.expires),
        (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
      );
    },
  };
}
