// Bearer-token authentication for the API: tokens from server.apiTokens, each scoped to companies.
// Token files are read when used (cached briefly) so a rotated token needs no reload.
import type { IncomingMessage } from 'node:http';
import { readSecret, type Secret } from '../config/secret.js';
import type { ResolvedApiToken, Snapshot } from '../config/snapshot.js';

export interface Principal {
  name: string;
  companies: string[] | '*';
}

const CACHE_MS = 5_000;
/** The schema's minLength for an inline `token`; a `tokenFile` holding less is refused the same way. */
export const MIN_API_TOKEN_LENGTH = 16;
const cache = new WeakMap<ResolvedApiToken, { at: number; secret: Secret | null }>();

async function tokenValue(t: ResolvedApiToken): Promise<Secret | null> {
  const hit = cache.get(t);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.secret;
  // A short token (a file holding "changeme", or "test") is guessable: `check` refuses it inline,
  // and it is refused here when a file holds it, so no request authenticates with it.
  const read = await readSecret(t.token).catch(() => null);
  const secret = read && read.reveal().trim().length >= MIN_API_TOKEN_LENGTH ? read : null;
  cache.set(t, { at: Date.now(), secret });
  return secret;
}

export async function authenticate(req: IncomingMessage, snap: Snapshot): Promise<Principal | null> {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return null;
  const presented = m[1]!;
  let found: Principal | null = null;
  // Compare against every token (constant time each) so timing does not reveal which one matched.
  for (const t of snap.server.apiTokens) {
    const secret = await tokenValue(t);
    if (secret && secret.reveal().length > 0 && secret.equals(presented) && !found) found = { name: t.name, companies: t.companies };
  }
  return found;
}

export function canSee(p: Principal, company: string): boolean {
  return p.companies === '*' || p.companies.includes(company);
}
