// Why this exists: there is no Gmail here, so the Gmail tests run against a REAL HTTP server on
// loopback implementing the documented subset mailroom uses, after Google's Gmail API reference:
// users.getProfile (historyId), messages.list (labelIds, `q=after:YYYY/MM/DD`, maxResults,
// nextPageToken), messages.get with format=raw (base64url), users.history.list (startHistoryId,
// labelId, historyTypes, messagesAdded / labelsAdded, nextPageToken, 404 for a history id it no
// longer has), messages.modify (add/remove labels), messages.trash, labels.list / labels.create,
// messages.send (JSON raw, and the media upload endpoint), 429 rateLimitExceeded with Retry-After,
// and bearer tokens checked against the OAuth2 test peer (401 unknown/revoked, 403 insufficient
// scope or another user). Shapes are checked against the published examples in test/fixtures/gmail/.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { OAuthPeer } from './oauth.js';

export interface GmailMessage {
  id: string;
  threadId: string;
  raw: Buffer;
  labelIds: Set<string>;
  internalDate: number;
}

export interface GmailRequest {
  method: string;
  path: string;
  user: string | null;
  status: number;
  at: number;
}

interface HistoryRecord {
  id: number;
  messageId: string;
  kind: 'messageAdded' | 'labelAdded' | 'labelRemoved';
  labelIds: string[];
}

interface Box {
  messages: Map<string, GmailMessage>;
  labels: Map<string, { id: string; name: string; type: 'system' | 'user' }>;
  history: HistoryRecord[];
  historyId: number;
  /** history ids at or below this are gone (404 on startHistoryId) */
  oldestHistory: number;
}

const SYSTEM_LABELS = ['INBOX', 'SENT', 'TRASH', 'UNREAD', 'STARRED', 'IMPORTANT', 'SPAM', 'DRAFT'];
/** messages.send JSON body limit before the upload endpoint is needed (metadata requests). */
export const GMAIL_JSON_SEND_LIMIT = 5 * 1024 * 1024;

export interface GmailPeer {
  /** Base URL as `apiUrl` takes it: http://127.0.0.1:<port> */
  url: string;
  requests: GmailRequest[];
  sent: { user: string; raw: Buffer; via: 'json' | 'upload' }[];
  addMailbox(user: string): void;
  deliver(user: string, raw: string | Buffer, opts?: { labels?: string[]; internalDate?: number }): string;
  messages(user: string, label?: string): GmailMessage[];
  labelId(user: string, name: string): string | undefined;
  /** Drop all history: any earlier startHistoryId gets 404. */
  expireHistory(): void;
  throttle(opts: { every: number; retryAfter: number } | null): void;
  close(): Promise<void>;
}

export async function startGmailPeer(oauth: OAuthPeer): Promise<GmailPeer> {
  const boxes = new Map<string, Box>();
  let throttle: { every: number; retryAfter: number; n: number } | null = null;
  const box = (user: string) => {
    const b = boxes.get(user.toLowerCase());
    if (!b) throw new Error(`gmail peer: no mailbox ${user}`);
    return b;
  };
  const record = (b: Box, messageId: string, kind: HistoryRecord['kind'], labelIds: string[]) => b.history.push({ id: ++b.historyId, messageId, kind, labelIds });

  const peer: GmailPeer = {
    url: '',
    requests: [],
    sent: [],
    addMailbox(user) {
      const labels = new Map(SYSTEM_LABELS.map((id) => [id, { id, name: id, type: 'system' as const }]));
      boxes.set(user.toLowerCase(), { messages: new Map(), labels, history: [], historyId: 1000 + Math.floor(Math.random() * 1000), oldestHistory: 0 });
    },
    deliver(user, raw, opts = {}) {
      const b = box(user);
      const id = randomBytes(8).toString('hex');
      const labelIds = new Set(opts.labels ?? ['INBOX', 'UNREAD']);
      b.messages.set(id, { id, threadId: id, raw: Buffer.isBuffer(raw) ? raw : Buffer.from(raw), labelIds, internalDate: opts.internalDate ?? Date.now() });
      record(b, id, 'messageAdded', [...labelIds]);
      return id;
    },
    messages(user, label) {
      return [...box(user).messages.values()].filter((m) => !label || m.labelIds.has(label));
    },
    labelId(user, name) {
      return [...box(user).labels.values()].find((l) => l.name === name || l.id === name)?.id;
    },
    expireHistory() {
      for (const b of boxes.values()) b.oldestHistory = b.historyId + 1; // every id handed out so far
    },
    throttle(opts) {
      throttle = opts ? { ...opts, n: 0 } : null;
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 413: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED' };
  const error = (res: ServerResponse, code: number, reason: string, message: string, headers: Record<string, string> = {}) =>
    json(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason }], status: STATUS[code] ?? 'UNKNOWN' } }, headers);

  const body = async (req: IncomingMessage, limit = 50 * 1024 * 1024): Promise<Buffer | null> => {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of req) {
      n += (c as Buffer).length;
      if (n > limit) return null;
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  };
  const jsonBody = async (req: IncomingMessage) => JSON.parse((await body(req, 1 << 20))?.toString('utf8') || '{}') as Record<string, unknown>;
  const meta = (m: GmailMessage) => ({ id: m.id, threadId: m.threadId, labelIds: [...m.labelIds] });

  const modify = (b: Box, m: GmailMessage, add: string[], remove: string[]) => {
    const added = add.filter((l) => !m.labelIds.has(l));
    const removed = remove.filter((l) => m.labelIds.has(l));
    for (const l of added) m.labelIds.add(l);
    for (const l of removed) m.labelIds.delete(l);
    if (added.length) record(b, m.id, 'labelAdded', added);
    if (removed.length) record(b, m.id, 'labelRemoved', removed);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, rec: GmailRequest) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const upload = url.pathname.startsWith('/upload/');
    const m = /^(?:\/upload)?\/gmail\/v1\/users\/([^/]+)(\/.*)$/.exec(decodeURIComponent(url.pathname));
    if (!m) return error(res, 404, 'notFound', 'Not Found');
    const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    if (!auth || !oauth.isActive(auth)) return error(res, 401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
    const t = oauth.issued.get(auth)!;
    const userId = m[1] === 'me' ? t.user : m[1]!;
    rec.user = userId.toLowerCase();
    if (!/gmail\.modify|mail\.google\.com|gmail\.send/.test(t.scope ?? '')) return error(res, 403, 'insufficientPermissions', 'Request had insufficient authentication scopes.');
    if (!oauth.isActive(auth, userId)) return error(res, 403, 'forbidden', 'Delegation denied for ' + t.user);
    const b = boxes.get(userId.toLowerCase());
    if (!b) return error(res, 400, 'failedPrecondition', 'Mail service not enabled');
    if (throttle && ++throttle.n % throttle.every === 0) return error(res, 429, 'rateLimitExceeded', 'Rate Limit Exceeded', { 'retry-after': String(throttle.retryAfter) });
    const rest = m[2]!;
    const method = req.method ?? 'GET';
    let r: RegExpExecArray | null;
    if (method === 'GET' && rest === '/profile') return json(res, 200, { emailAddress: userId, messagesTotal: b.messages.size, threadsTotal: b.messages.size, historyId: String(b.historyId) });
    if (method === 'GET' && rest === '/labels') return json(res, 200, { labels: [...b.labels.values()] });
    if (method === 'POST' && rest === '/labels') {
      const j = await jsonBody(req);
      if (typeof j.name !== 'string' || !j.name) return error(res, 400, 'invalidArgument', 'Invalid label name');
      if ([...b.labels.values()].some((l) => l.name.toLowerCase() === String(j.name).toLowerCase())) return error(res, 409, 'duplicate', 'Label name exists or conflicts');
      const l = { id: `Label_${randomBytes(4).toString('hex')}`, name: j.name, type: 'user' as const };
      b.labels.set(l.id, l);
      return json(res, 200, { ...l, messageListVisibility: 'show', labelListVisibility: 'labelShow' });
    }
    if (method === 'GET' && rest === '/messages') {
      const labels = url.searchParams.getAll('labelIds');
      const after = /after:(\d{4})\/(\d{2})\/(\d{2})/.exec(url.searchParams.get('q') ?? '');
      const afterMs = after ? Date.UTC(Number(after[1]), Number(after[2]) - 1, Number(after[3])) : null;
      const max = Math.min(500, Number(url.searchParams.get('maxResults') ?? 100));
      const all = [...b.messages.values()]
        .filter((x) => labels.every((l) => x.labelIds.has(l)) && (afterMs === null || x.internalDate >= afterMs))
        .sort((x, y) => y.internalDate - x.internalDate || (y.id < x.id ? -1 : 1));
      // An offset, the harsh reading of an opaque token: messages leaving the label while it is
      // listed shift the pages still to come (mailroom must not move or trash during a listing).
      const start = Number(url.searchParams.get('pageToken') ?? 0);
      const page = all.slice(start, start + max);
      return json(res, 200, { ...(page.length && { messages: page.map((x) => ({ id: x.id, threadId: x.threadId })) }), ...(start + max < all.length && { nextPageToken: String(start + max) }), resultSizeEstimate: all.length });
    }
    if (method === 'GET' && rest === '/history') {
      const start = Number(url.searchParams.get('startHistoryId') ?? NaN);
      if (!Number.isFinite(start) || start < b.oldestHistory) return error(res, 404, 'notFound', 'Requested entity was not found.');
      const label = url.searchParams.get('labelId');
      const types = url.searchParams.getAll('historyTypes');
      const max = Math.min(500, Number(url.searchParams.get('maxResults') ?? 100));
      const all = b.history.filter((h) => h.id > start && (!types.length || types.includes(h.kind)) && (!label || h.labelIds.includes(label)));
      const from = Number(url.searchParams.get('pageToken') ?? 0);
      const page = all.slice(from, from + max);
      const history = page.map((h) => {
        const msg = b.messages.get(h.messageId);
        const mm = { id: h.messageId, threadId: h.messageId, labelIds: msg ? [...msg.labelIds] : [] };
        return { id: String(h.id), messages: [mm], ...(h.kind === 'messageAdded' ? { messagesAdded: [{ message: mm }] } : h.kind === 'labelAdded' ? { labelsAdded: [{ message: mm, labelIds: h.labelIds }] } : { labelsRemoved: [{ message: mm, labelIds: h.labelIds }] }) };
      });
      return json(res, 200, { ...(history.length && { history }), ...(from + max < all.length && { nextPageToken: String(from + max) }), historyId: String(b.historyId) });
    }
    if ((r = /^\/messages\/([^/]+)(\/modify|\/trash)?$/.exec(rest)) && r[1] !== 'send') {
      const msg = b.messages.get(r[1]!);
      if (!msg) return error(res, 404, 'notFound', 'Requested entity was not found.');
      if (method === 'GET' && !r[2]) {
        const format = url.searchParams.get('format') ?? 'full';
        if (format !== 'raw') return json(res, 200, { ...meta(msg), snippet: '', sizeEstimate: msg.raw.length, historyId: String(b.historyId), internalDate: String(msg.internalDate) });
        return json(res, 200, { ...meta(msg), snippet: '', sizeEstimate: msg.raw.length, historyId: String(b.historyId), internalDate: String(msg.internalDate), raw: msg.raw.toString('base64url') });
      }
      if (method === 'POST' && r[2] === '/modify') {
        const j = await jsonBody(req);
        const add = Array.isArray(j.addLabelIds) ? (j.addLabelIds as string[]) : [];
        const remove = Array.isArray(j.removeLabelIds) ? (j.removeLabelIds as string[]) : [];
        for (const l of [...add, ...remove]) if (!b.labels.has(l)) return error(res, 400, 'invalidArgument', `Invalid label: ${l}`);
        modify(b, msg, add, remove);
        return json(res, 200, meta(msg));
      }
      if (method === 'POST' && r[2] === '/trash') {
        modify(b, msg, ['TRASH'], [...msg.labelIds].filter((l) => l !== 'TRASH'));
        return json(res, 200, meta(msg));
      }
    }
    if (method === 'POST' && rest === '/messages/send') {
      let raw: Buffer;
      if (upload) {
        if (url.searchParams.get('uploadType') !== 'media' || !/^message\/rfc822/i.test(String(req.headers['content-type'] ?? ''))) return error(res, 400, 'badContent', 'Media type not supported');
        const got = await body(req, 35 * 1024 * 1024);
        if (!got) return error(res, 413, 'uploadTooLarge', 'Request entity too large');
        raw = got;
      } else {
        const got = await body(req, GMAIL_JSON_SEND_LIMIT);
        if (!got) return error(res, 413, 'uploadTooLarge', 'Request payload size exceeds the limit: 5242880 bytes.');
        const j = JSON.parse(got.toString('utf8') || '{}') as { raw?: unknown };
        if (typeof j.raw !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(j.raw)) return error(res, 400, 'invalidArgument', "Invalid value for ByteString: 'raw'");
        raw = Buffer.from(j.raw, 'base64url');
      }
      if (!/\r?\n\r?\n/.test(raw.toString('latin1')) || !/^(to|cc|bcc):/im.test(raw.toString('latin1'))) return error(res, 400, 'invalidArgument', 'Recipient address required');
      peer.sent.push({ user: userId.toLowerCase(), raw, via: upload ? 'upload' : 'json' });
      const id = randomBytes(8).toString('hex');
      b.messages.set(id, { id, threadId: id, raw, labelIds: new Set(['SENT']), internalDate: Date.now() });
      return json(res, 200, { id, threadId: id, labelIds: ['SENT'] });
    }
    return error(res, 400, 'badRequest', `Unsupported ${method} ${rest}`);
  };

  const server: Server = createServer((req, res) => {
    const rec: GmailRequest = { method: req.method ?? 'GET', path: req.url ?? '/', user: null, status: 0, at: Date.now() };
    peer.requests.push(rec);
    res.on('close', () => (rec.status = res.statusCode));
    handle(req, res, rec).catch((e: unknown) => (res.headersSent ? res.destroy() : error(res, 500, 'backendError', (e as Error).message)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  peer.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  return peer;
}
