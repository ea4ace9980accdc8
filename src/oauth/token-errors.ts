// What a token endpoint's refusal means (pure): permanent (the grant or the client is gone: only a
// person can fix it, the mailbox is suspended) or temporary (network, 5xx, throttling: back off).
// Errors carry the OAuth2 error and the provider's code (AADSTS...) but never a secret or a token.
import { redactMessage } from '../inbound/errors.js';
import { scrubSecrets } from '../observability/secret-scrub.js';

/** OAuth2 `error` values that no retry can fix (RFC 6749 5.2). */
export const PERMANENT_OAUTH_ERRORS = new Set(['invalid_grant', 'invalid_client']);

/**
 * Microsoft Entra codes that mean the grant is unusable until someone acts: 70000 invalid grant,
 * 700082 refresh token expired by inactivity, 50173 grant revoked (password change), 9002313
 * malformed request/grant, 900144 required parameter missing, 50079 / 50076 MFA now required.
 */
export const PERMANENT_AADSTS = new Set(['AADSTS70000', 'AADSTS700082', 'AADSTS50173', 'AADSTS9002313', 'AADSTS900144', 'AADSTS50079', 'AADSTS50076']);

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

/** Classify a token endpoint's non-2xx answer (pure). `secrets` are scrubbed from the message. */
export function tokenErrorFromResponse(status: number, body: unknown, secrets: readonly string[] = []): TokenEndpointError {
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
  return new TokenEndpointError(message, kind, oauthError, providerCode, status);
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
