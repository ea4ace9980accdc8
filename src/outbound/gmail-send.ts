// Why this file exists: `outbound.transport: gmail` — the outbox's message sent through the Gmail
// API's messages.send with the raw MIME (base64url in JSON; the media upload endpoint past 5 MB), so
// the bytes are the SMTP path's. Gmail sends to the To/Cc/Bcc headers, so envelope-only recipients
// are named as Bcc (Gmail removes it). Google's answers are mapped onto the SMTP replies they stand
// for (gmailSendError, pure), so the outbox's retry/fail/suspend rules apply unchanged.
import type { ResolvedOutbound } from '../config/snapshot.js';
import { GraphApiError } from '../graph/client.js';
import { credentialsFor } from '../inbound/credentials.js';
import { gmailClient } from '../gmail/client.js';
import { withEnvelopeBcc } from './graph-send.js';
import type { SendResult } from './send-result.js';

/** messages.send's JSON (metadata) request limit; larger messages go through the upload endpoint. */
export const GMAIL_JSON_LIMIT = 5 * 1024 * 1024;
/** The upload endpoint's limit for a message. */
export const GMAIL_UPLOAD_LIMIT = 35 * 1024 * 1024;

export function gmailSendError(e: GraphApiError): Error & { code: string; responseCode: number } {
  const s = e.httpStatus;
  const mk = (code: string, responseCode: number) => Object.assign(new Error(e.message), { code, responseCode, response: `${responseCode} ${e.message}`, httpStatus: s, graphCode: e.graphCode });
  if (s === 401 || (s === 403 && /insufficientPermissions|forbidden|authError|accessNotConfigured/.test(e.graphCode))) return mk('EAUTH', 535);
  if (s === 429 || s === 503 || (s === 403 && /rateLimitExceeded|userRateLimitExceeded|dailyLimitExceeded/.test(e.graphCode))) return mk('EGMAIL', 421);
  if (s === 413) return mk('EMESSAGE', 552);
  if (s >= 400 && s < 500) return mk('EMESSAGE', 554);
  return mk('EGMAIL', 451);
}

export async function sendViaGmail(label: string, server: ResolvedOutbound, envelope: { from: string; to: string[] }, raw: Buffer, handedOver: () => void): Promise<{ result?: SendResult; error?: unknown; committed: boolean }> {
  if (!server.auth?.oauth2 || !server.apiUrl)
    return { error: Object.assign(new Error(`mailbox ${label}: transport gmail needs auth.oauth2 and an API URL`), { code: 'ECONFIG' }), committed: false };
  const mime = withEnvelopeBcc(raw, envelope.to);
  if (mime.length > GMAIL_UPLOAD_LIMIT)
    return { error: Object.assign(new Error(`the message is ${(mime.length / 1048576).toFixed(1)} MB, over Gmail's 35 MB limit`), { code: 'EMESSAGE', responseCode: 552, response: '552 message too large for Gmail' }), committed: false };
  const client = gmailClient(label, server.apiUrl, server.auth, { timeoutMs: server.timeoutMs });
  try {
    await credentialsFor(label, server.auth);
  } catch (e) {
    return { error: e, committed: false };
  }
  handedOver();
  try {
    const small = Buffer.byteLength(JSON.stringify({ raw: '' })) + Math.ceil((mime.length * 4) / 3) <= GMAIL_JSON_LIMIT;
    const sent = small
      ? await client.json<{ id?: string }>({ method: 'POST', path: '/messages/send', json: { raw: mime.toString('base64url') } })
      : await client.json<{ id?: string }>({ method: 'POST', path: `${server.apiUrl.replace(/\/+$/, '')}/upload/gmail/v1/users/${encodeURIComponent(server.auth.user)}/messages/send?uploadType=media`, body: mime, contentType: 'message/rfc822' });
    return { result: { response: `200 OK (Gmail messages.send id ${sent.id ?? '?'})`, accepted: [...envelope.to], rejectedErrors: [] }, committed: true };
  } catch (e) {
    if (e instanceof GraphApiError && e.httpStatus > 0) return { error: gmailSendError(e), committed: true };
    const refused = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/.test(String((e as { code?: unknown }).code ?? ''));
    return { error: e, committed: !refused };
  }
}
