// Classifies a mail-server error by origin (server reply first, library codes second), so that a
// poller knows whether to back off or suspend, and status shows an actionable class. This is where
// a server's text becomes mailroom's: the mailbox's secret values are stripped from it here, before
// it reaches a log, status, suspensions.json or a notice mail (a server may echo the password).
import { scrubSecrets } from '../observability/secret-scrub.js';

export type ErrorClass = 'dns' | 'tcp' | 'tls' | 'auth' | 'protocol' | 'busy' | 'timeout' | 'config' | 'other';

export interface ClassifiedError {
  class: ErrorClass;
  /** Retrying will not help until someone changes something (credentials, certificate, config). */
  permanent: boolean;
  message: string;
}

const TLS_CODES = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*|EPROTO|ERR_TLS_.*)$/;

interface ErrLike {
  code?: string;
  message?: string;
  authenticationFailed?: boolean;
  serverResponseCode?: string;
  responseText?: string;
  responseStatus?: string;
  /** an HTTP mail API's answer (Graph, Gmail): its status decides */
  httpStatus?: number;
  cause?: unknown;
}

/** `secrets`: the mailbox's secret values (known-secrets.ts), removed from the message in every form. */
export function classifyError(err: unknown, secrets: readonly string[] = []): ClassifiedError {
  const e = (err ?? {}) as ErrLike;
  const code = String(e.code ?? '');
  const text = `${e.serverResponseCode ?? ''} ${e.responseText ?? ''} ${e.message ?? String(err)}`;
  // Scrubbed before it is cut: a cut through the middle of a password would leave its first half.
  const message = redactMessage(scrubSecrets(describe(e, err), secrets)).slice(0, 500);
  // Server replies first. An HTTP API's status (Graph, Gmail) says it all.
  const http = e.httpStatus;
  if (typeof http === 'number' && http > 0) {
    if (http === 401 || http === 403) return { class: 'auth', permanent: true, message };
    if (http === 429 || http === 503) return { class: 'busy', permanent: false, message };
    if (http === 404) return { class: 'config', permanent: true, message };
    return { class: 'protocol', permanent: false, message };
  }
  if (e.authenticationFailed || /AUTHENTICATIONFAILED|AUTHORIZATIONFAILED|\[AUTH\]|authentication failed|invalid credentials|login failed|LOGIN failed|Invalid login|(wrong|invalid|bad|incorrect) password/i.test(text))
    return { class: 'auth', permanent: true, message };
  if (/\[(IN-USE|INUSE|SYS\/TEMP|UNAVAILABLE|LIMIT|OVERQUOTA)\]|too many connections|try again later|server busy|UNAVAILABLE/i.test(text))
    return { class: 'busy', permanent: false, message };
  if (/NONEXISTENT|Mailbox doesn't exist|no such mailbox|TRYCREATE/i.test(text)) return { class: 'config', permanent: true, message };
  // Library / OS codes second.
  if (TLS_CODES.test(code) || /certificate|self[- ]signed|TLS|SSL|wrong version number|handshake/i.test(e.message ?? ''))
    return { class: 'tls', permanent: /CERT|certificate|self[- ]signed|ALTNAME/i.test(code + (e.message ?? '')), message };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return { class: 'dns', permanent: false, message };
  if (code === 'ETIMEDOUT' || code === 'ETIMEOUT' || code === 'CONNECT_TIMEOUT' || /timed? ?out/i.test(e.message ?? '')) return { class: 'timeout', permanent: false, message };
  if (/^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|ECONNABORTED|NoConnection|ClosedAfterConnectTLS|ClosedAfterConnectText)$/.test(code) || /connection (closed|reset|refused)|socket hang up|Unexpected close/i.test(e.message ?? ''))
    return { class: 'tcp', permanent: false, message };
  if (e.responseStatus === 'NO' || e.responseStatus === 'BAD' || /^-ERR/.test(e.message ?? '') || /Command failed|protocol/i.test(e.message ?? ''))
    return { class: 'protocol', permanent: false, message };
  return { class: 'other', permanent: false, message };
}

function describe(e: ErrLike, err: unknown): string {
  const parts = [e.message ?? String(err)];
  // imapflow: message 'Command failed', responseText 'Authentication failed.' → 'Command failed: Authentication failed.'
  if (e.responseText && !parts[0]!.includes(e.responseText)) parts[0] = `${parts[0]}: ${e.responseText}`;
  if (e.code && !parts[0]!.includes(e.code)) parts.push(`(${e.code})`);
  return parts.join(' ').slice(0, 2000);
}

/**
 * Remove anything that looks like a credential from a server or library message: the commands
 * that carry one as a client sends them (upper case: `A1 LOGIN user pass`, `AUTHENTICATE PLAIN
 * <base64>`, `PASS pass`), bearer tokens. Prose such as "login failed for alice" or "LOGIN failed
 * for alice" is no command and is kept. The actual values are scrubbed by scrubSecrets.
 */
export function redactMessage(message: string): string {
  return message
    .replace(/(\bAUTHENTICATE\s+(?!(?:failed|FAILED|Failed)\b)\S+\s+)\S+/g, '$1<redacted>')
    .replace(/(\bLOGIN\s+(?!(?:failed|FAILED|Failed|failure|FAILURE|Failure|refused|REFUSED|denied|DENIED|disabled|DISABLED|incorrect|INCORRECT|not|NOT|for|FOR|error|ERROR)\b)\S+\s+)\S+/g, '$1<redacted>')
    .replace(/(PASS\s+)\S+/g, '$1<redacted>')
    .replace(/(user=\S+\x01auth=Bearer\s+)\S+/g, '$1<redacted>')
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, '$1<redacted>');
}

/** A human hint for status and `test-mailbox`. */
export function hintFor(c: ErrorClass): string {
  switch (c) {
    case 'dns': return 'the host name does not resolve: check inbound.host';
    case 'tcp': return 'the server refused or dropped the connection: check host, port and firewalls';
    case 'tls': return 'TLS failed: check security (tls/starttls), the port, and the certificate (caFile for a private CA)';
    case 'auth': return 'the server refused the credentials: check auth.user and the password or OAuth2 grant';
    case 'busy': return 'the server is busy or limits connections: mailroom backs off and retries';
    case 'timeout': return 'the server did not answer in time';
    case 'config': return 'the server says the folder does not exist: check inbound.folder';
    case 'protocol': return 'the server answered with an error';
    default: return 'unexpected error';
  }
}
