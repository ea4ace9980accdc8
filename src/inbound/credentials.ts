// Credentials for a mailbox login, read when used (so a rotated `*File` secret needs no reload).
// OAuth2 tokens come from a token provider (registered by the OAuth2 module).
import { readFile } from 'node:fs/promises';
import { readSecret } from '../config/secret.js';
import type { ResolvedAuth, ResolvedInbound } from '../config/snapshot.js';
import { rememberSecrets } from '../observability/known-secrets.js';

export type Credentials = { user: string; pass: string } | { user: string; accessToken: string };

export type AccessTokenProvider = (mailboxId: string, auth: ResolvedAuth) => Promise<string>;

let tokenProvider: AccessTokenProvider | null = null;

export function setAccessTokenProvider(p: AccessTokenProvider | null): void {
  tokenProvider = p;
}

export async function credentialsFor(mailboxId: string, auth: ResolvedAuth | null): Promise<Credentials> {
  if (!auth) throw Object.assign(new Error(`mailbox ${mailboxId} has no credentials`), { code: 'ECONFIG' });
  if (auth.oauth2) {
    if (!tokenProvider) throw Object.assign(new Error('OAuth2 is not available in this build'), { code: 'ECONFIG' });
    const accessToken = await tokenProvider(mailboxId, auth);
    rememberSecrets(mailboxId, accessToken);
    return { user: auth.user, accessToken };
  }
  if (!auth.password) throw Object.assign(new Error(`mailbox ${mailboxId} has no password`), { code: 'ECONFIG' });
  const secret = await readSecret(auth.password).catch((e: Error) => {
    throw Object.assign(new Error(e.message), { code: 'ECONFIG' });
  });
  // Known to the error classifiers, which strip it from what the server answers.
  rememberSecrets(mailboxId, secret.reveal());
  return { user: auth.user, pass: secret.reveal() };
}

/** TLS options for a server: verification on by default, a private CA from caFile. */
export async function tlsOptionsFor(inbound: Pick<ResolvedInbound, 'host' | 'verifyCertificate' | 'caFile'>): Promise<{ rejectUnauthorized: boolean; servername?: string; ca?: Buffer; minVersion: 'TLSv1.2' }> {
  const ca = inbound.caFile
    ? await readFile(inbound.caFile).catch((e: NodeJS.ErrnoException) => {
        throw Object.assign(new Error(`cannot read caFile ${inbound.caFile} (${e.code})`), { code: 'ECONFIG' });
      })
    : undefined;
  const isIp = /^[0-9.]+$|:/.test(inbound.host);
  return { rejectUnauthorized: inbound.verifyCertificate, ...(isIp ? {} : { servername: inbound.host }), ...(ca && { ca }), minVersion: 'TLSv1.2' };
}
