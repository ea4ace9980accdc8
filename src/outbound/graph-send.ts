// Why this file exists: `outbound.transport: graph` — the outbox's message sent through Microsoft
// Graph's sendMail with its MIME (base64, text/plain), so headers, threading and attachments are the
// bytes the SMTP path would send. Graph's answer is mapped onto the SMTP reply it stands for
// (graphSendError, pure), so classifySendError, the outbox's retry/fail rules and the sender's
// suspension treat both transports alike. Graph keeps a copy in Sent Items (every MIME sendMail does).
import type { ResolvedOutbound } from '../config/snapshot.js';
import { GraphApiError, GraphClient } from '../graph/client.js';
import { credentialsFor } from '../inbound/credentials.js';
import type { SendResult } from './send-result.js';

/** sendMail's request body limit (the base64 MIME): "cannot exceed 4 MB". */
export const GRAPH_SEND_LIMIT = 4 * 1024 * 1024;

/** An SMTP-shaped error (responseCode, code) for a Graph refusal (pure). */
export function graphSendError(e: GraphApiError): Error & { code: string; responseCode: number; response: string } {
  const s = e.httpStatus;
  const mk = (code: string, responseCode: number) => Object.assign(new Error(e.message), { code, responseCode, response: `${responseCode} ${e.message}`, httpStatus: s, graphCode: e.graphCode });
  // The token or the app's right to send was refused: like SMTP AUTH 535 (the mailbox's problem, suspension after N).
  if (s === 401 || (s === 403 && e.graphCode !== 'ErrorSendAsDenied')) return mk('EAUTH', 535);
  if (s === 403) return mk('EENVELOPE', 550); // SendAs denied for this From: the message's problem
  if (s === 429 || s === 503) return mk('EGRAPH', 421); // throttled past what a request waits: later
  if (s === 413) return mk('EMESSAGE', 552);
  if (s === 404) return mk('ECONFIG', 550); // the sending mailbox is gone or has no REST access
  if (s >= 400 && s < 500) return mk('EMESSAGE', 554); // the request (the MIME) was refused
  return mk('EGRAPH', 451); // 5xx: try again later
}

/** Recipients of the envelope the MIME's To/Cc do not name go as Bcc (Graph sends to the headers). */
export function withEnvelopeBcc(raw: Buffer, to: string[]): Buffer {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end < 0 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const named = new Set<string>();
  for (const line of head.split(/\r?\n/)) if (/^(to|cc|bcc):/i.test(line)) for (const m of line.matchAll(/[^\s<>,;:"]+@[^\s<>,;"]+/g)) named.add(m[0].toLowerCase());
  const missing = to.filter((a) => !named.has(a.toLowerCase()));
  return missing.length ? Buffer.concat([Buffer.from(`Bcc: ${missing.join(', ')}\r\n`, 'latin1'), raw]) : raw;
}

export async function sendViaGraph(label: string, server: ResolvedOutbound, envelope: { from: string; to: string[] }, raw: Buffer, handedOver: () => void): Promise<{ result?: SendResult; error?: unknown; committed: boolean }> {
  if (!server.auth?.oauth2 || !server.apiUrl)
    return { error: Object.assign(new Error(`mailbox ${label}: transport graph needs auth.oauth2 and an API URL`), { code: 'ECONFIG' }), committed: false };
  const body = withEnvelopeBcc(raw, envelope.to).toString('base64');
  if (body.length > GRAPH_SEND_LIMIT)
    return { error: Object.assign(new Error(`the message is ${(body.length / 1048576).toFixed(1)} MB as base64 MIME, over Graph sendMail's 4 MB limit`), { code: 'EMESSAGE', responseCode: 552, response: '552 message too large for Graph sendMail' }), committed: false };
  const client = new GraphClient({ mailbox: label, apiUrl: server.apiUrl, auth: server.auth, timeoutMs: server.timeoutMs });
  try {
    // A token first (a token endpoint's refusal sends nothing), then the commit point: from here a
    // crash counts the message as possibly sent, as after SMTP's end of data.
    await credentialsFor(label, server.auth);
  } catch (e) {
    return { error: e, committed: false };
  }
  handedOver();
  try {
    await client.request({ method: 'POST', path: '/sendMail', text: body }, async (res) => {
      await res.arrayBuffer();
    });
    return { result: { response: '202 Accepted (Graph sendMail)', accepted: [...envelope.to], rejectedErrors: [] }, committed: true };
  } catch (e) {
    // Graph's answer is a verdict (the outbox retries or fails by it, no duplicate flag); no answer
    // (connection lost, timeout) leaves the verdict unknown: the outbox resends it flagged.
    if (e instanceof GraphApiError && e.httpStatus > 0) return { error: graphSendError(e), committed: true };
    const refused = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/.test(String((e as { code?: unknown }).code ?? ''));
    return { error: e, committed: !refused };
  }
}
