// Classifies a failed SMTP attempt by origin (pure): the server's reply code first (5xx permanent,
// 4xx temporary, RFC 5321), nodemailer / OS error codes second. A third class, `mailbox`, is a
// problem of the sending mailbox rather than of the message (credentials refused, certificate,
// missing secret): the message is kept and retried, the mailbox's lane pauses.
import { redactMessage } from '../inbound/errors.js';
import { scrubSecrets } from '../observability/secret-scrub.js';
import type { OutboxError, RecipientOutcome } from '../store/outbox-types.js';

export interface ClassifiedSend extends OutboxError {
  /** The failure says the server or the connection is unwell: pause the mailbox's lane. */
  pauseLane: boolean;
  /** The failure ended the connection without a reply (network), as opposed to a server reply. */
  connectionLost: boolean;
}

interface ErrLike {
  code?: unknown;
  responseCode?: unknown;
  response?: unknown;
  command?: unknown;
  message?: unknown;
}

const CONNECTION = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'EPROXY', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const MAILBOX = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2', 'ETLS', 'ECONFIG', 'EREQUIRETLS']);
const CERT = /CERT|certificate|self[- ]signed|ALTNAME|unable to verify/i;

/** `secrets`: the sending mailbox's secret values, removed from the message (a server may echo them). */
export function classifySendError(err: unknown, secrets: readonly string[] = []): ClassifiedSend {
  const e = (err ?? {}) as ErrLike;
  const code = typeof e.code === 'string' ? e.code : null;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : null;
  const command = typeof e.command === 'string' ? e.command : '';
  const text = [typeof e.message === 'string' ? e.message : String(err), typeof e.response === 'string' && !String(e.message).includes(e.response) ? e.response : '']
    .filter(Boolean)
    .join(': ');
  const message = redactMessage(scrubSecrets(text, secrets)).slice(0, 500);
  const base = { code, responseCode, message };
  if (responseCode !== null) {
    if (code === 'EAUTH' || /^AUTH/i.test(command)) return { ...base, class: 'mailbox', pauseLane: true, connectionLost: false };
    // 530 / 5.7.0 "authentication required" (RFC 4954; or "must issue STARTTLS first", RFC 3207)
    // comes at MAIL FROM when the login did not happen or did not hold: the mailbox's problem, not
    // a verdict on this message, so it is retried (and counts toward suspension), never failed.
    if (responseCode === 530 || (responseCode >= 500 && /\b5\.7\.0\b/.test(text) && /authenticat/i.test(text))) return { ...base, class: 'mailbox', pauseLane: true, connectionLost: false };
    if (responseCode === 421) return { ...base, class: 'temporary', pauseLane: true, connectionLost: false };
    // 503 (bad sequence) is a session problem, not a verdict on the message.
    if (responseCode >= 500 && responseCode < 600 && responseCode !== 503) return { ...base, class: 'permanent', pauseLane: false, connectionLost: false };
    return { ...base, class: 'temporary', pauseLane: false, connectionLost: false };
  }
  if ((code && MAILBOX.has(code)) || CERT.test(`${code ?? ''} ${text}`)) return { ...base, class: 'mailbox', pauseLane: true, connectionLost: false };
  if (code && CONNECTION.has(code)) return { ...base, class: 'temporary', pauseLane: true, connectionLost: true };
  if (code === 'EMAXRECIPIENTS') return { ...base, class: 'permanent', pauseLane: false, connectionLost: false };
  return { ...base, class: 'temporary', pauseLane: false, connectionLost: false };
}

/**
 * Did the SMTP server refuse the mailbox's login (pure)? 535 / 534 at AUTH, or 530 "authentication
 * required" at MAIL FROM. N of these in a row suspend the mailbox (sender-suspension.ts); a token
 * endpoint's error is judged by its own rules, and a missing secret (ECONFIG) is no refusal.
 */
export function isAuthRefusal(c: ClassifiedSend): boolean {
  if (c.class !== 'mailbox' || c.code === 'EOAUTH2' || c.code === 'ECONFIG') return false;
  const rc = c.responseCode;
  return rc === 530 || rc === 534 || rc === 535 || (c.code === 'EAUTH' && rc !== null && rc >= 500);
}

/** A per-recipient refusal: 5xx (except 503) is final for that recipient. */
export function recipientIsPermanent(responseCode: number | null): boolean {
  return responseCode !== null && responseCode >= 500 && responseCode < 600 && responseCode !== 503;
}

/** Per-recipient refusals (nodemailer's rejectedErrors) split into final ones and ones to retry. */
export function splitRecipients(errors: { recipient?: string; responseCode?: number | null; response?: string }[], secrets: readonly string[] = []): { perm: RecipientOutcome[]; temp: RecipientOutcome[] } {
  const all = errors.map((x) => ({ address: String(x.recipient ?? ''), code: x.responseCode ?? null, response: redactMessage(scrubSecrets(String(x.response ?? ''), secrets)).slice(0, 500) }));
  return { perm: all.filter((x) => recipientIsPermanent(x.code)), temp: all.filter((x) => !recipientIsPermanent(x.code)) };
}

/** Exponential backoff with equal jitter: at least half the ceiling, so a failing server is never hammered. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** What a person should check, for logs, status and `mailroom test-mailbox`. */
export function sendHint(c: ClassifiedSend): string {
  if (c.class === 'permanent') return 'the receiving server refused the message for good (see its reply): check the recipient address';
  if (c.code === 'EAUTH' || c.code === 'ENOAUTH') return 'the SMTP server refused the credentials: check auth.user and the password or OAuth2 grant of the mailbox';
  if (c.responseCode === 530) return 'the SMTP server wants a login (or STARTTLS) before MAIL FROM: check auth and security of the mailbox';
  if (c.class === 'mailbox' && CERT.test(c.message)) return "the server's TLS certificate was not accepted: check the host name, or set caFile for a private CA";
  if (c.class === 'mailbox') return 'the sending mailbox is misconfigured (TLS, credentials or secrets): mail stays queued until it is fixed';
  if (c.code === 'EDNS' || /ENOTFOUND|EAI_AGAIN/.test(c.message)) return 'the SMTP host name does not resolve: check host';
  if (c.connectionLost) return 'the SMTP server could not be reached or dropped the connection: mailroom retries with backoff';
  return 'the server asked to try again later: mailroom retries with backoff';
}
