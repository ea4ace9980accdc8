// Why this exists: there is no Microsoft Graph here, so the Graph tests run against a REAL HTTP server
// on loopback that implements the documented subset mailroom uses, after Microsoft's API reference:
// mail folders (well-known names, display names, childFolders, create), the messages delta query of a
// folder (paging with @odata.nextLink under `Prefer: odata.maxpagesize`, @odata.deltaLink at the end
// of a round, `@removed` rows, a receivedDateTime $filter on the first request, 410 SyncStateNotFound
// for a state token it no longer knows), `$value` (the MIME), PATCH isRead, move (a new id unless the
// client asked for immutable ids), DELETE, sendMail with a base64 MIME body (4 MB limit), the
// per-mailbox concurrency limit (4 requests, 429 ApplicationThrottled with Retry-After), scripted
// throttling storms and failures, and bearer tokens checked against the OAuth2 test peer (401 for a
// token it did not issue or revoked, 403 for a token of another mailbox or without Mail scopes).
// Shapes are checked against the published examples in test/fixtures/graph/.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { OAuthPeer } from './oauth.js';

export interface GraphMessage {
  id: string;
  folderId: string;
  raw: Buffer;
  isRead: boolean;
  receivedDateTime: string;
  /** delta sequence of its last change */
  seq: number;
}

export interface GraphFolder {
  id: string;
  displayName: string;
  parentFolderId: string | null;
  wellKnownName: string | null;
}

export interface GraphRequest {
  method: string;
  path: string;
  mailbox: string | null;
  status: number;
  at: number;
  prefer: string | null;
}

export interface SentMail {
  mailbox: string;
  mime: Buffer;
}

interface Mailbox {
  folders: Map<string, GraphFolder>;
  messages: Map<string, GraphMessage>;
  /** folder id → message id → seq at which it left the folder */
  departed: Map<string, Map<string, number>>;
  seq: number;
  inFlight: number;
  disabled: boolean;
}

interface PageState {
  mailbox: string;
  folderId: string;
  ids: { id: string; removed: boolean }[];
  offset: number;
  endSeq: number;
}

const WELL_KNOWN = ['inbox', 'archive', 'deleteditems', 'drafts', 'junkemail', 'sentitems', 'outbox'];
const DISPLAY: Record<string, string> = { inbox: 'Inbox', archive: 'Archive', deleteditems: 'Deleted Items', drafts: 'Drafts', junkemail: 'Junk Email', sentitems: 'Sent Items', outbox: 'Outbox' };
/** sendMail: "the request body cannot exceed 4 MB" (the MIME, base64 encoded). */
export const SEND_MAIL_LIMIT = 4 * 1024 * 1024;
export const MAILBOX_CONCURRENCY = 4;

export interface GraphPeer {
  /** Base URL as `apiUrl` takes it: http://127.0.0.1:<port>/v1.0 */
  url: string;
  requests: GraphRequest[];
  sent: SentMail[];
  /** Most requests in flight at once, per mailbox. */
  maxInFlight: Map<string, number>;
  /** Create a mailbox with its well-known folders. */
  addMailbox(user: string): void;
  /** Deliver a message into a folder (default inbox); returns its id. */
  deliver(user: string, raw: string | Buffer, opts?: { folder?: string; receivedDateTime?: string }): string;
  messages(user: string, folder?: string): GraphMessage[];
  folder(user: string, displayNameOrWellKnown: string): GraphFolder | undefined;
  /** Forget every delta and skip token: the next use gets 410 SyncStateNotFound. */
  expireSyncState(): void;
  /** Every `every`-th request (of all mailboxes, or of `mailbox`) gets 429 with Retry-After `retryAfter` seconds. */
  throttle(opts: { every: number; retryAfter: number; mailbox?: string } | null): void;
  /** Answer the next `n` requests of `mailbox` with `status` and a Graph error body. */
  failNext(mailbox: string, n: number, status: number, code: string, message: string, headers?: Record<string, string>): void;
  /** The mailbox is gone (disabled, deleted): 404 MailboxNotEnabledForRESTAPI. */
  disableMailbox(user: string, disabled?: boolean): void;
  /** Wait this long before answering $value (tests crashing mid-sync). */
  valueDelayMs: number;
  close(): Promise<void>;
}

function newId(): string {
  return `AAMkAD${randomBytes(24).toString('base64url')}=`;
}

function token(): string {
  return randomBytes(18).toString('base64url');
}

export async function startGraphPeer(oauth: OAuthPeer): Promise<GraphPeer> {
  const boxes = new Map<string, Mailbox>();
  const pages = new Map<string, PageState>();
  const deltas = new Map<string, { mailbox: string; folderId: string; seq: number; since: string | null }>();
  let throttle: { every: number; retryAfter: number; mailbox?: string; n: number } | null = null;
  const scripted = new Map<string, { left: number; status: number; code: string; message: string; headers: Record<string, string> }>();
  let base = '';

  const box = (user: string): Mailbox => {
    const b = boxes.get(user.toLowerCase());
    if (!b) throw new Error(`graph peer: no mailbox ${user}`);
    return b;
  };
  const findFolder = (b: Mailbox, ref: string): GraphFolder | undefined => {
    const low = ref.toLowerCase();
    for (const f of b.folders.values()) if (f.id === ref || f.wellKnownName === low) return f;
    return undefined;
  };
  const bump = (b: Mailbox, m: GraphMessage) => (m.seq = ++b.seq);

  const peer: GraphPeer = {
    url: '',
    requests: [],
    sent: [],
    maxInFlight: new Map(),
    valueDelayMs: 0,
    addMailbox(user) {
      const folders = new Map<string, GraphFolder>();
      for (const w of WELL_KNOWN) {
        const id = `AQMkAD${w}${randomBytes(6).toString('hex')}`;
        folders.set(id, { id, displayName: DISPLAY[w]!, parentFolderId: null, wellKnownName: w });
      }
      boxes.set(user.toLowerCase(), { folders, messages: new Map(), departed: new Map(), seq: 0, inFlight: 0, disabled: false });
    },
    deliver(user, raw, opts = {}) {
      const b = box(user);
      const f = findFolder(b, opts.folder ?? 'inbox') ?? [...b.folders.values()].find((x) => x.displayName === opts.folder);
      if (!f) throw new Error(`graph peer: no folder ${opts.folder}`);
      const m: GraphMessage = { id: newId(), folderId: f.id, raw: Buffer.isBuffer(raw) ? raw : Buffer.from(raw), isRead: false, receivedDateTime: opts.receivedDateTime ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'), seq: 0 };
      bump(b, m);
      b.messages.set(m.id, m);
      return m.id;
    },
    messages(user, folder) {
      const b = box(user);
      const f = folder ? (findFolder(b, folder) ?? [...b.folders.values()].find((x) => x.displayName === folder)) : undefined;
      if (folder && !f) return [];
      return [...b.messages.values()].filter((m) => !f || m.folderId === f.id);
    },
    folder(user, name) {
      const b = box(user);
      return findFolder(b, name) ?? [...b.folders.values()].find((x) => x.displayName === name);
    },
    expireSyncState() {
      pages.clear();
      deltas.clear();
    },
    throttle(opts) {
      throttle = opts ? { ...opts, n: 0 } : null;
    },
    failNext(mailbox, n, status, code, message, headers = {}) {
      scripted.set(mailbox.toLowerCase(), { left: n, status, code, message, headers });
    },
    disableMailbox(user, disabled = true) {
      box(user).disabled = disabled;
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; odata.metadata=minimal', 'content-length': Buffer.byteLength(text), 'request-id': token(), ...headers });
    res.end(text);
  };
  const error = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    json(res, status, { error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': token(), 'client-request-id': token() } } }, headers);

  const messageJson = (m: GraphMessage, b: Mailbox) => {
    const head = m.raw.toString('latin1').split(/\r?\n\r?\n/)[0] ?? '';
    const subject = /^Subject:[ \t]*(.*)$/im.exec(head)?.[1]?.trim() ?? '';
    const from = /^From:[ \t]*(?:"?([^"<\r\n]*)"?\s*)?<?([^>\s]+@[^>\s]+)>?/im.exec(head);
    return {
      '@odata.type': '#microsoft.graph.message',
      '@odata.etag': `W/"CQAAABYAAAA${m.seq}"`,
      id: m.id,
      subject,
      isRead: m.isRead,
      receivedDateTime: m.receivedDateTime,
      parentFolderId: m.folderId,
      sender: { emailAddress: { name: (from?.[1] ?? '').trim(), address: from?.[2] ?? '' } },
    };
  };

  const maxPage = (req: IncomingMessage): number => {
    const p = /odata\.maxpagesize=(\d+)/.exec(String(req.headers.prefer ?? ''));
    return p ? Math.max(1, Math.min(1000, Number(p[1]))) : 10;
  };

  /** One delta page from a stored state, and the link that follows it. */
  const page = (res: ServerResponse, req: IncomingMessage, user: string, st: PageState) => {
    const b = box(user);
    const size = maxPage(req);
    const slice = st.ids.slice(st.offset, st.offset + size);
    const value = slice.flatMap(({ id, removed }): Record<string, unknown>[] => {
      const m = b.messages.get(id);
      if (removed || !m || m.folderId !== st.folderId) return [{ '@odata.type': '#microsoft.graph.message', id, '@removed': { reason: 'deleted' } }];
      return [messageJson(m, b)];
    });
    const link = `${base}/users/${encodeURIComponent(user)}/mailFolders('${st.folderId}')/messages/delta`;
    const offset = st.offset + slice.length;
    // State tokens stay valid when used (a client that crashed replays the same link).
    if (offset < st.ids.length) {
      const t = token();
      pages.set(t, { ...st, offset });
      return json(res, 200, { '@odata.context': `${base}/$metadata#Collection(message)`, '@odata.nextLink': `${link}?$skiptoken=${t}`, value });
    }
    const t = token();
    deltas.set(t, { mailbox: st.mailbox, folderId: st.folderId, seq: st.endSeq, since: null });
    return json(res, 200, { '@odata.context': `${base}/$metadata#Collection(message)`, '@odata.deltaLink': `${link}?$deltatoken=${t}`, value });
  };

  const delta = (res: ServerResponse, req: IncomingMessage, user: string, folderRef: string, q: URLSearchParams) => {
    const b = box(user);
    const skip = q.get('$skiptoken');
    const dt = q.get('$deltatoken');
    if (skip !== null) {
      const st = pages.get(skip);
      if (!st || st.mailbox !== user.toLowerCase()) return error(res, 410, 'SyncStateNotFound', 'The sync state generation is not valid.');
      return page(res, req, user, st);
    }
    const f = findFolder(b, folderRef);
    if (!f) return error(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    if (dt !== null) {
      const d = deltas.get(dt);
      if (!d || d.mailbox !== user.toLowerCase() || d.folderId !== f.id) return error(res, 410, 'SyncStateNotFound', 'The sync state generation is not valid.');
      const changed = [...b.messages.values()].filter((m) => m.folderId === f.id && m.seq > d.seq).sort((x, y) => x.seq - y.seq).map((m) => ({ id: m.id, removed: false }));
      const gone = [...(b.departed.get(f.id) ?? new Map<string, number>())].filter(([, s]) => s > d.seq).map(([id]) => ({ id, removed: true }));
      return page(res, req, user, { mailbox: user.toLowerCase(), folderId: f.id, ids: [...changed, ...gone], offset: 0, endSeq: b.seq });
    }
    // The first request of a round: every message of the folder (optionally received since a date).
    const filter = q.get('$filter');
    let since: number | null = null;
    if (filter !== null) {
      const m = /^receivedDateTime (ge|gt) (\S+)$/.exec(filter.trim());
      if (!m) return error(res, 400, 'ErrorInvalidUrlQueryFilter', 'The query filter contains one or more invalid nodes.');
      since = Date.parse(m[2]!);
      if (Number.isNaN(since)) return error(res, 400, 'ErrorInvalidUrlQueryFilter', 'The query filter contains one or more invalid nodes.');
    }
    const ids = [...b.messages.values()]
      .filter((m) => m.folderId === f.id && (since === null || Date.parse(m.receivedDateTime) >= since))
      .sort((x, y) => x.seq - y.seq)
      .map((m) => ({ id: m.id, removed: false }));
    return page(res, req, user, { mailbox: user.toLowerCase(), folderId: f.id, ids, offset: 0, endSeq: b.seq });
  };

  const readBody = async (req: IncomingMessage, limit: number): Promise<Buffer | null> => {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of req) {
      n += (c as Buffer).length;
      if (n > limit) return null;
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  };

  const folderJson = (f: GraphFolder, b: Mailbox) => {
    const inside = [...b.messages.values()].filter((m) => m.folderId === f.id);
    return { id: f.id, displayName: f.displayName, parentFolderId: f.parentFolderId, childFolderCount: [...b.folders.values()].filter((x) => x.parentFolderId === f.id).length, unreadItemCount: inside.filter((m) => !m.isRead).length, totalItemCount: inside.length, isHidden: false };
  };

  const moveTo = (b: Mailbox, m: GraphMessage, dest: GraphFolder, immutable: boolean): GraphMessage => {
    if (m.folderId === dest.id) return m;
    const departedFrom = b.departed.get(m.folderId) ?? b.departed.set(m.folderId, new Map()).get(m.folderId)!;
    departedFrom.set(m.id, ++b.seq);
    b.messages.delete(m.id);
    // Without `Prefer: IdType="ImmutableId"` an item's id changes when it moves to another folder.
    const moved: GraphMessage = { ...m, id: immutable ? m.id : newId(), folderId: dest.id };
    bump(b, moved);
    b.messages.set(moved.id, moved);
    return moved;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, rec: GraphRequest) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname).replace(/^\/v1\.0/, '');
    const m = /^\/users\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return error(res, 404, 'UnknownError', 'Resource not found for the segment.');
    const user = m[1]!.toLowerCase();
    rec.mailbox = user;
    const rest = m[2] ?? '';
    // Bearer token, checked against the identity provider's own records.
    const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    if (!auth || !oauth.isActive(auth)) return error(res, 401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.', { 'www-authenticate': 'Bearer realm="", error="invalid_token"' });
    const issued = oauth.issued.get(auth)!;
    const scope = issued.scope ?? '';
    if (!/\.default|Mail\.ReadWrite|Mail\.Send/.test(scope) || !oauth.isActive(auth, user)) return error(res, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    const b = boxes.get(user);
    if (!b || b.disabled) return error(res, 404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
    const s = scripted.get(user);
    if (s && s.left > 0) {
      s.left--;
      return error(res, s.status, s.code, s.message, s.headers);
    }
    if (throttle && (!throttle.mailbox || throttle.mailbox.toLowerCase() === user) && ++throttle.n % throttle.every === 0)
      return error(res, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'retry-after': String(throttle.retryAfter) });
    if (b.inFlight > MAILBOX_CONCURRENCY) return error(res, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'retry-after': '1' });
    const immutable = /IdType="ImmutableId"/.test(String(req.headers.prefer ?? ''));
    const method = req.method ?? 'GET';
    let r: RegExpExecArray | null;

    if (method === 'GET' && (r = /^\/mailFolders(?:\('([^']+)'\)|\/([^/]+))\/messages\/delta$/.exec(rest))) return delta(res, req, user, r[1] ?? r[2]!, url.searchParams);
    if (method === 'GET' && rest === '/mailFolders') {
      const eq = /^displayName eq '((?:[^']|'')*)'$/.exec(url.searchParams.get('$filter') ?? '');
      const list = [...b.folders.values()].filter((f) => f.parentFolderId === null && (!eq || f.displayName === eq[1]!.replace(/''/g, "'")));
      return json(res, 200, { value: list.map((f) => folderJson(f, b)) });
    }
    if ((r = /^\/mailFolders\/([^/]+)\/childFolders$/.exec(rest))) {
      const parent = findFolder(b, r[1]!);
      if (!parent) return error(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      if (method === 'GET') {
        const eq = /^displayName eq '((?:[^']|'')*)'$/.exec(url.searchParams.get('$filter') ?? '');
        return json(res, 200, { value: [...b.folders.values()].filter((f) => f.parentFolderId === parent.id && (!eq || f.displayName === eq[1]!.replace(/''/g, "'"))).map((f) => folderJson(f, b)) });
      }
      if (method === 'POST') return createFolder(req, res, b, parent.id);
    }
    if (method === 'POST' && rest === '/mailFolders') return createFolder(req, res, b, null);
    if (method === 'GET' && (r = /^\/mailFolders\/([^/]+)$/.exec(rest))) {
      const f = findFolder(b, r[1]!);
      return f ? json(res, 200, folderJson(f, b)) : error(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    }
    if ((r = /^\/messages\/([^/]+)(\/\$value|\/move)?$/.exec(rest))) {
      const msg = b.messages.get(r[1]!);
      if (!msg) return error(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      if (method === 'GET' && r[2] === '/$value') {
        if (peer.valueDelayMs) await new Promise((x) => setTimeout(x, peer.valueDelayMs));
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': msg.raw.length });
        return res.end(msg.raw);
      }
      if (method === 'GET' && !r[2]) return json(res, 200, messageJson(msg, b));
      if (method === 'PATCH' && !r[2]) {
        const body = JSON.parse((await readBody(req, 1 << 20))?.toString('utf8') || '{}') as { isRead?: unknown };
        if (typeof body.isRead === 'boolean' && body.isRead !== msg.isRead) {
          msg.isRead = body.isRead;
          bump(b, msg);
        }
        return json(res, 200, messageJson(msg, b));
      }
      if (method === 'POST' && r[2] === '/move') {
        const body = JSON.parse((await readBody(req, 1 << 20))?.toString('utf8') || '{}') as { destinationId?: unknown };
        const dest = typeof body.destinationId === 'string' ? findFolder(b, body.destinationId) : undefined;
        if (!dest) return error(res, 400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
        return json(res, 201, messageJson(moveTo(b, msg, dest, immutable), b));
      }
      if (method === 'DELETE' && !r[2]) {
        moveTo(b, msg, findFolder(b, 'deleteditems')!, true);
        res.writeHead(204);
        return res.end();
      }
    }
    if (method === 'POST' && rest === '/sendMail') {
      if (!/^text\/plain\b/i.test(String(req.headers['content-type'] ?? ''))) return error(res, 400, 'ErrorInvalidRequest', 'Cannot process input of the given content type.');
      const body = await readBody(req, SEND_MAIL_LIMIT);
      if (!body) return error(res, 413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.');
      const text = body.toString('latin1').replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return error(res, 400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
      const mime = Buffer.from(text, 'base64');
      peer.sent.push({ mailbox: user, mime });
      const sentItems = findFolder(b, 'sentitems')!;
      const copy: GraphMessage = { id: newId(), folderId: sentItems.id, raw: mime, isRead: true, receivedDateTime: new Date().toISOString(), seq: 0 };
      bump(b, copy);
      b.messages.set(copy.id, copy);
      res.writeHead(202, { 'content-length': 0 });
      return res.end();
    }
    return error(res, 400, 'BadRequest', `Unsupported request ${method} ${rest}`);
  };

  const createFolder = async (req: IncomingMessage, res: ServerResponse, b: Mailbox, parentId: string | null) => {
    const body = JSON.parse((await readBody(req, 1 << 20))?.toString('utf8') || '{}') as { displayName?: unknown };
    if (typeof body.displayName !== 'string' || !body.displayName) return error(res, 400, 'ErrorInvalidRequest', 'displayName is required.');
    if ([...b.folders.values()].some((f) => f.parentFolderId === parentId && f.displayName === body.displayName))
      return error(res, 409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
    const f: GraphFolder = { id: `AQMkAD${randomBytes(9).toString('hex')}`, displayName: body.displayName, parentFolderId: parentId, wellKnownName: null };
    b.folders.set(f.id, f);
    return json(res, 201, folderJson(f, b));
  };

  const server: Server = createServer((req, res) => {
    const rec: GraphRequest = { method: req.method ?? 'GET', path: req.url ?? '/', mailbox: null, status: 0, at: Date.now(), prefer: (req.headers.prefer as string | undefined) ?? null };
    peer.requests.push(rec);
    const user = /^\/v1\.0\/users\/([^/?]+)/.exec(req.url ?? '')?.[1];
    const b = user ? boxes.get(decodeURIComponent(user).toLowerCase()) : undefined;
    if (b) {
      b.inFlight++;
      const key = decodeURIComponent(user!).toLowerCase();
      peer.maxInFlight.set(key, Math.max(peer.maxInFlight.get(key) ?? 0, b.inFlight));
    }
    res.on('close', () => {
      if (b) b.inFlight--;
      rec.status = res.statusCode;
    });
    handle(req, res, rec).catch((e: unknown) => {
      if (!res.headersSent) error(res, 500, 'generalException', (e as Error).message);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/v1.0`;
  peer.url = base;
  return peer;
}
