// Why this file exists: Google Workspace's service account with domain-wide delegation: the token
// request is an RFC 7523 JWT bearer grant, the assertion signed (RS256) with the service account's
// private key and naming the mailbox as `sub`. Signing is jose's, not hand-written. The key file is
// parsed here and never leaves this module but as a signature.
import { importPKCS8, SignJWT } from 'jose';
import { TokenEndpointError } from './token-errors.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: string;
  privateKeyId: string | null;
}

/** Google's JSON key (pure); a config error naming what is missing, never echoing the key. */
export function parseServiceAccountKey(text: string): ServiceAccountKey {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new TokenEndpointError('auth.oauth2.serviceAccountKeyFile is not a JSON key file (download the key of the service account as JSON)', 'config');
  }
  if (typeof j.client_email !== 'string' || typeof j.private_key !== 'string' || !j.private_key.includes('PRIVATE KEY'))
    throw new TokenEndpointError('auth.oauth2.serviceAccountKeyFile has no client_email or private_key (a service account JSON key is needed)', 'config');
  return { clientEmail: j.client_email, privateKey: j.private_key, privateKeyId: typeof j.private_key_id === 'string' ? j.private_key_id : null };
}

/** The signed assertion: iss the service account, sub the mailbox, aud the token endpoint, one hour. */
export async function serviceAccountAssertion(key: ServiceAccountKey, opts: { user: string; scope: string | null; tokenUrl: string; now?: number }): Promise<string> {
  let pk: Awaited<ReturnType<typeof importPKCS8>>;
  try {
    pk = await importPKCS8(key.privateKey, 'RS256');
  } catch {
    throw new TokenEndpointError('auth.oauth2.serviceAccountKeyFile: its private_key is not a PKCS#8 RSA key', 'config');
  }
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  return new SignJWT({ ...(opts.scope && { scope: opts.scope }) })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(key.privateKeyId && { kid: key.privateKeyId }) })
    .setIssuer(key.clientEmail)
    .setSubject(opts.user)
    .setAudience(opts.tokenUrl)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 3600)
    .sign(pk);
}
