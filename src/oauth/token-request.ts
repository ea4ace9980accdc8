// One request to a token endpoint (RFC 6749 4.4 client_credentials, 6 refresh_token): the form is
// built by a pure function, the HTTP call is a thin fetch with a timeout, the answer is checked.
import type { ResolvedOAuth2 } from '../config/snapshot.js';
import { JWT_BEARER, parseServiceAccountKey, serviceAccountAssertion } from './service-account.js';
import { TokenEndpointError, tokenErrorFromNetwork, tokenErrorFromResponse } from './token-errors.js';

export interface TokenGrantInput {
  oauth2: ResolvedOAuth2;
  clientSecret: string | null;
  /** The refresh token to present (refresh_token flow). */
  refreshToken: string | null;
  /** service_account: the mailbox the assertion names (`sub`) */
  user?: string;
}

export interface TokenResponse {
  accessToken: string;
  /** Lifetime in seconds as the endpoint said (expires_in), or null. */
  expiresIn: number | null;
  /** A new refresh token (rotation), when the endpoint sent one. */
  refreshToken: string | null;
  /** refresh_token_expires_in, when the endpoint sent it (Google time-limited grants, some others). */
  refreshTokenExpiresIn: number | null;
}

/** The form body of a token request (pure). Throws a config error when something needed is missing. */
export function tokenRequestBody(input: TokenGrantInput): URLSearchParams {
  const o = input.oauth2;
  if (o.flow === 'service_account') throw new TokenEndpointError('auth.oauth2: service_account is signed asynchronously (requestToken)', 'config');
  const form = new URLSearchParams({ grant_type: o.flow, client_id: o.clientId });
  if (o.flow === 'client_credentials') {
    if (!input.clientSecret) throw new TokenEndpointError('auth.oauth2: the client_credentials flow needs clientSecret or clientSecretFile', 'config');
    form.set('client_secret', input.clientSecret);
  } else {
    if (!input.refreshToken) throw new TokenEndpointError('auth.oauth2: the refresh_token flow needs refreshToken or refreshTokenFile', 'config');
    form.set('refresh_token', input.refreshToken);
    // Public clients (Microsoft delegated without a secret) send none.
    if (input.clientSecret) form.set('client_secret', input.clientSecret);
  }
  if (o.scope) form.set('scope', o.scope);
  return form;
}

function num(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** Check a 2xx body (pure). */
export function parseTokenResponse(body: unknown): TokenResponse {
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  if (typeof b.access_token !== 'string' || b.access_token === '') throw new TokenEndpointError('token endpoint answered without an access_token', 'server');
  if (typeof b.token_type === 'string' && b.token_type.toLowerCase() !== 'bearer') throw new TokenEndpointError(`token endpoint issued a ${b.token_type.slice(0, 20)} token, not a Bearer token`, 'server');
  return {
    accessToken: b.access_token,
    expiresIn: num(b.expires_in),
    refreshToken: typeof b.refresh_token === 'string' && b.refresh_token !== '' ? b.refresh_token : null,
    refreshTokenExpiresIn: num(b.refresh_token_expires_in),
  };
}

export interface RequestOptions {
  timeoutMs?: number;
  /** Secret values to scrub from any error text. */
  secrets?: string[];
}

/** POST the grant to the token endpoint. */
export async function requestToken(input: TokenGrantInput, opts: RequestOptions = {}): Promise<TokenResponse> {
  const url = input.oauth2.tokenUrl;
  if (!url) throw new TokenEndpointError('auth.oauth2: no token endpoint: set tokenUrl, or a provider with a preset (office365, gmail ...)', 'config');
  const secrets = [...(opts.secrets ?? []), input.clientSecret ?? '', input.refreshToken ?? ''];
  const body = input.oauth2.flow === 'service_account' ? await serviceAccountForm(input, url, secrets) : tokenRequestBody(input);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw tokenErrorFromNetwork(err, url);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw tokenErrorFromNetwork(err, url);
  }
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: judged by the status below
  }
  if (!res.ok) throw tokenErrorFromResponse(res.status, json, secrets, input.oauth2);
  if (json === null) throw new TokenEndpointError(`token endpoint answered HTTP ${res.status} without JSON`, 'server', null, null, res.status);
  return parseTokenResponse(json);
}

/** RFC 7523: the JWT bearer grant of a service account (its private key joins the scrubbed secrets). */
async function serviceAccountForm(input: TokenGrantInput, tokenUrl: string, secrets: string[]): Promise<URLSearchParams> {
  if (!input.clientSecret) throw new TokenEndpointError('auth.oauth2: the service_account flow needs serviceAccountKeyFile', 'config');
  if (!input.user) throw new TokenEndpointError('auth.oauth2: the service_account flow acts as auth.user, which is missing', 'config');
  const key = parseServiceAccountKey(input.clientSecret);
  secrets.push(key.privateKey);
  const assertion = await serviceAccountAssertion(key, { user: input.user, scope: input.oauth2.scope, tokenUrl });
  return new URLSearchParams({ grant_type: JWT_BEARER, assertion });
}
