// What a token endpoint's refusal means (pure): permanent (the grant or the client is gone: only a
// person can fix it, the mailbox is suspended) or temporary (network, 5xx, throttling: back off).
// Errors carry the OAuth2 error and the provider's code (AADSTS...) but never a secret or a token.
import { redactMessage } from '../inbound/errors.js';
import { scrubSecrets } from '../observability/secret-scrub.js';

/**
 * OAuth2 `error` values that no retry can fix: RFC 6749 5.2's invalid_grant and invalid_client, and
 * Google's deleted_client / disabled_client (the OAuth client was deleted / disabled in its project).
 */
export const PERMANENT_OAUTH_ERRORS = new Set(['invalid_grant', 'invalid_client', 'deleted_client', 'disabled_client']);

/**
 * Microsoft Entra codes that mean the grant or the app is unusable until someone acts: 70000 invalid
 * grant, 700082 refresh token expired by inactivity, 50173 grant revoked (password change), 9002313
 * malformed request/grant, 900144 required parameter missing, 50079 / 50076 MFA now required;
 * 700016 application not found in the tenant (deleted, or the wrong tenant), 7000112 application
 * disabled, 90002 tenant not found, 900023 tenant identifier not valid (these four come with
 * unauthorized_client / invalid_request, which alone are no verdict); 7000215 invalid and 7000222
 * expired client secret (with invalid_client, listed so that the code is the one reported).
 */
export const PERMANENT_AADSTS = new Set([
  'AADSTS70000',
  'AADSTS700082',
  'AADSTS50173',
  'AADSTS9002313',
  'AADSTS900144',
  'AADSTS50079',
  'AADSTS50076',
  'AADSTS700016',
  'AADSTS7000112',
  'AADSTS90002',
  'AADSTS900023',
  'AADSTS7000215',
  'AADSTS7000222',
]);

export type TokenErrorKind = 'permanent' | 'auth' | 'busy' | 'network' | 'timeout' | 'server' | 'config';

/** A failed token request. `code` is EOAUTH2 so the outbound classifier sees a mailbox problem. */
export class TokenEndpointError extends Error {
  readonly code = 'EOAUTH2';
  constructor(
    message: string,
    readonly kind: TokenErrorKind,
    /** The OAuth2 `error` field (invalid_grant ...), when the endpoint answered one. */
    readonly oauthError: string | null = null,
    /** The provider's own code (AADSTS50173 ...), when it gave one. */
    readonly providerCode: string | null = null,
    readonly status: number | null = null,
    /** What a person should do, when the refusal says precisely (tokenErrorHint). */
    readonly hint: string | null = null,
  ) {
    super(message);
    this.name = 'TokenEndpointError';
  }

  get permanent(): boolean {
    return this.kind === 'permanent';
  }
}

export function isTokenEndpointError(e: unknown): e is TokenEndpointError {
  return e instanceof TokenEndpointError;
}

/** Replace every known secret value in a text, encoded forms too (a server may echo what it was sent). */
export function scrub(text: string, secrets: readonly string[]): string {
  return redactMessage(scrubSecrets(text, secrets));
}

/** Every AADSTS code a Microsoft error body names (error_codes numbers and the description). */
export function aadstsCodes(body: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (Array.isArray(body.error_codes)) for (const n of body.error_codes) if (typeof n === 'number' || /^\d+$/.test(String(n))) out.push(`AADSTS${String(n)}`);
  const desc = typeof body.error_description === 'string' ? body.error_description : '';
  for (const m of desc.matchAll(/AADSTS(\d+)/g)) out.push(`AADSTS${m[1]}`);
  return [...new Set(out)];
}

/** The first sentence of an error description, without trace ids and timestamps. */
function firstSentence(desc: string): string {
  const cut = desc.split(/\s*(?:Trace ID|Correlation ID|Timestamp):/i)[0] ?? '';
  const m = /^(.*?[.!?])(\s|$)/.exec(cut);
  return (m ? m[1]! : cut).trim().slice(0, 200);
}

/** What identifies the app at the provider, for a precise hint. */
export interface TokenClient {
  clientId: string;
  tenantId?: string | null;
  tokenUrl?: string | null;
}

/** The tenant a Microsoft token URL names (login.microsoftonline.com/<tenant>/oauth2/...), if any. */
function tenantOf(c: TokenClient): string | null {
  if (c.tenantId) return c.tenantId;
  const m = /^https?:\/\/[^/]+\/([^/]+)\/oauth2\//i.exec(c.tokenUrl ?? '');
  return m && !/^(common|organizations|consumers)$/i.test(m[1]!) ? decodeURIComponent(m[1]!) : null;
}

/** A precise hint for refusals that name what is gone (pure); null when the refusal says nothing precise. */
export function tokenErrorHint(oauthError: string | null, codes: readonly string[], client: TokenClient | null): string | null {
  const app = client ? `the app registration ${client.clientId}` : 'the app registration';
  const tenant = client && tenantOf(client) ? `tenant ${tenantOf(client)}` : 'its tenant';
  const has = (c: string) => codes.includes(c);
  if (has('AADSTS700016')) return `${app} was not found in ${tenant} (deleted, or the wrong tenantId): re-create it (and its consent), then update clientId (and clientSecret)`;
  if (has('AADSTS7000112')) return `${app} is disabled in ${tenant}: enable it again (Enterprise applications) or re-create it, then update clientId; after enabling the same app: POST /v1/mailboxes/<id>/resume`;
  if (has('AADSTS90002') || has('AADSTS900023')) return `${tenant} was not found at the token endpoint: check tenantId (or tokenUrl)`;
  if (has('AADSTS7000222')) return `the client secret of ${app} has expired: create a new one and update clientSecret`;
  if (has('AADSTS7000215')) return `the client secret of ${app} is not valid (a secret ID instead of its value, or a deleted secret): update clientSecret`;
  const client_ = client ? `the OAuth client ${client.clientId}` : 'the OAuth client';
  if (oauthError === 'deleted_client') return `${client_} was deleted in its Google Cloud project: restore it (within 30 days) or create a new one, then update clientId and clientSecret`;
  if (oauthError === 'disabled_client') return `${client_} is disabled in its Google Cloud project: enable it again, then POST /v1/mailboxes/<id>/resume`;
  return null;
}

/** Classify a token endpoint's non-2xx answer (pure). `secrets` are scrubbed from the message. */
export function tokenErrorFromResponse(status: number, body: unknown, secrets: readonly string[] = [], client: TokenClient | null = null): TokenEndpointError {
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const oauthError = typeof b.error === 'string' ? b.error.slice(0, 64) : null;
  const codes = aadstsCodes(b);
  const permanentCode = codes.find((c) => PERMANENT_AADSTS.has(c)) ?? null;
  const providerCode = permanentCode ?? codes[0] ?? null;
  // Scrubbed before it is cut: a cut through a secret would leave part of it.
  const desc = typeof b.error_description === 'string' ? firstSentence(scrubSecrets(b.error_description, secrets)) : '';
  const what = oauthError ? `${oauthError}${providerCode && !desc.includes(providerCode) ? ` (${providerCode})` : ''}` : `HTTP ${status}`;
  const message = scrub(`token endpoint refused the request: ${what}${desc ? `: ${desc}` : ''}`, secrets);
  let kind: TokenErrorKind;
  if ((oauthError && PERMANENT_OAUTH_ERRORS.has(oauthError)) || permanentCode) kind = 'permanent';
  else if (status === 429 || status === 503 || oauthError === 'temporarily_unavailable') kind = 'busy';
  else if (status >= 500 || oauthError === 'server_error') kind = 'server';
  else kind = 'auth';
  return new TokenEndpointError(message, kind, oauthError, providerCode, status, tokenErrorHint(oauthError, codes, client));
}

/** A request that never got an answer (DNS, TCP, TLS, timeout). */
export function tokenErrorFromNetwork(err: unknown, tokenUrl: string): TokenEndpointError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? '';
  const host = (() => {
    try {
      return new URL(tokenUrl).host;
    } catch {
      return 'the token endpoint';
    }
  })();
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return new TokenEndpointError(`token endpoint ${host} did not answer in time`, 'timeout');
  const detail = redactMessage(`${e.cause?.message ?? e.message ?? String(err)}`).slice(0, 200);
  return new TokenEndpointError(`cannot reach token endpoint ${host}: ${detail}${code && !detail.includes(code) ? ` (${code})` : ''}`, 'network');
}
