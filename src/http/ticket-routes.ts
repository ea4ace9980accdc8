// Why this file exists: the ticket API (/v1/tickets...) the platform reads tickets through.
//
//   GET  /v1/tickets?company=&contract=&status=&since=&cursor=&limit=&order=   → {items, next}
//   GET  /v1/tickets/{id}                                   ticket with articles (sanitised HTML)
//   GET  /v1/tickets/{id}/articles/{n}/raw                  message/rfc822, the exact stored bytes
//   GET  /v1/tickets/{id}/attachments/{attId}               the attachment's bytes (as a download)
//   POST /v1/tickets/{id}/approve | /reject                 held tickets only (409 otherwise)
//
// Rules: a bearer token from server.apiTokens is required (401 + WWW-Authenticate otherwise); a
// token only ever sees its companies' tickets — anything else is 404 exactly like an unknown id, and a
// company filter outside its scope is an empty list exactly like a company without tickets, so
// neither reveals that an id or a company exists. Inputs are validated against schemas/api/ (400 with
// details, see validate-request.ts). Errors are JSON and never echo tokens or submitted values.
//
// Routing note: these routes are registered as regular-expression paths without `:params` and split
// the path themselves, because HttpServer.dispatch decodes `:params` outside its try/catch — a
// malformed escape (`/v1/tickets/%E0`) would reject dispatch's promise and the daemon's
// unhandledRejection handler would exit the process.
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { DaemonHost } from './host.js';
import { StoreError, type Ticket, type TicketStatus, type TicketSummary } from '../store/index.js';
import type { TicketPort } from '../store/port.js';
import { authenticate, canSee, type Principal } from './auth.js';
import { LEGACY_SANITIZE_MAX_CHARS, sanitizeMailHtml } from '../ingest/sanitize-html.js';
import { sendJson } from './server.js';
import { findAttachment, safeFilename, summaryView, ticketView } from './ticket-view.js';
import { ApiError, apiValidator, parsePath, parseQuery, readJsonBody } from './validate-request.js';

const JSON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
/** Downloads: never rendered by a browser in the API's origin, never sniffed, never cached shared. */
const DOWNLOAD_HEADERS = {
  'cache-control': 'private, no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
};

const NOT_FOUND = 'ticket not found';
/** What a rejected held ticket becomes: the store has no 'rejected' status (yet). */
export const REJECTED_STATUS: TicketStatus = 'rejected';

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  who: Principal;
  store: TicketPort;
  /** decoded path segments after /v1/tickets/ */
  parts: string[];
}

function sendApiJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, { ...JSON_HEADERS, ...headers });
}

function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** Media type we are willing to put in Content-Type (parameters dropped); else octet-stream. */
export function safeContentType(ct: string): string {
  const t = (ct.split(';')[0] ?? '').trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(t) ? t : 'application/octet-stream';
}

/** RFC 6266 / 8187: `attachment; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded>`. */
export function contentDisposition(filename: string): string {
  const name = safeFilename(filename);
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%;]/g, '_');
  const star = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${star}`;
}

/**
 * Sanitised HTML of articles stored before ingest made a sanitised copy (newer ones carry their
 * own): at most LEGACY_SANITIZE_MAX_CHARS each, on this thread (null beyond: text only), kept in a
 * small LRU since articles never change.
 */
class SanitizeCache {
  readonly #map = new Map<string, string>();
  #chars = 0;
  constructor(
    private readonly maxEntries = 2000,
    private readonly maxChars = 32 * 1024 * 1024,
  ) {}

  get(html: string, key: string): string | null {
    if (html.length > LEGACY_SANITIZE_MAX_CHARS) return null;
    const k = `${key}:${html.length}`;
    const hit = this.#map.get(k);
    if (hit !== undefined) {
      this.#map.delete(k);
      this.#map.set(k, hit);
      return hit;
    }
    const clean = sanitizeMailHtml(html);
    if (clean.length <= this.maxChars / 8) {
      this.#map.set(k, clean);
      this.#chars += clean.length;
      while (this.#map.size > this.maxEntries || this.#chars > this.maxChars) {
        const oldest = this.#map.entries().next().value;
        if (!oldest) break;
        this.#map.delete(oldest[0]);
        this.#chars -= oldest[1].length;
      }
    }
    return clean;
  }
}

export function registerTicketRoutes(d: DaemonHost): void {
  const http = d.http;
  const listQuery = apiValidator('list-tickets.query');
  const noQuery = apiValidator('no-query');
  const articlePath = apiValidator('article-path');
  const approveBody = apiValidator('approve.body');
  const rejectBody = apiValidator('reject.body');
  const html = new SanitizeCache();
  /** approve/reject of one ticket run one at a time, so "only if held" is check-and-set. */
  const locks = new Map<string, Promise<unknown>>();

  const baseUrl = (): string => (d.snapshot?.server.publicUrl ?? '').replace(/\/+$/, '');

  function handle(fn: (c: Ctx) => Promise<void>): (req: IncomingMessage, res: ServerResponse, _p: Record<string, string>, url: URL) => Promise<void> {
    return async (req, res, _p, url) => {
      try {
        const snapshot = d.snapshot;
        const store = d.stores?.tickets;
        if (!snapshot || !store) throw new ApiError(503, 'not started');
        const who = await authenticate(req, snapshot);
        if (!who) {
          const presented = req.headers.authorization !== undefined;
          throw new ApiError(401, 'missing or invalid bearer token', [], {
            'www-authenticate': presented ? 'Bearer realm="mailroom", error="invalid_token"' : 'Bearer realm="mailroom"',
          });
        }
        const parts = url.pathname.split('/').slice(3).map(decodeSegment);
        if (parts.some((p) => p === null)) throw new ApiError(404, NOT_FOUND);
        await fn({ req, res, url, who, store, parts: parts as string[] });
      } catch (e) {
        if (res.headersSent) throw e;
        if (e instanceof ApiError) return sendApiJson(res, e.status, e.body(), e.headers);
        if (e instanceof StoreError) {
          if (e.code === 'bad-cursor') {
            const details = [{ field: 'cursor', message: 'must be the `next` value of a previous page' }];
            return sendApiJson(res, 400, { error: 'invalid query: cursor must be the `next` value of a previous page', details });
          }
          if (e.code === 'closed') return sendApiJson(res, 503, { error: 'shutting down' });
        }
        throw e; // HttpServer logs it and answers 500 {"error":"internal error"}
      }
    };
  }

  /** The ticket's summary if this token may see it; 404 otherwise (unknown and foreign look alike). */
  async function visible(c: Ctx, id: string | undefined): Promise<TicketSummary> {
    if (id === undefined || id.length > 100) throw new ApiError(404, NOT_FOUND);
    const s = await c.store.summary(id);
    if (!s || !canSee(c.who, s.company)) throw new ApiError(404, NOT_FOUND);
    return s;
  }

  async function load(c: Ctx, id: string | undefined): Promise<Ticket> {
    await visible(c, id);
    const t = await c.store.get(id as string); // null while not yet durable
    if (!t || !canSee(c.who, t.company)) throw new ApiError(404, NOT_FOUND);
    return t;
  }

  async function sendBlob(c: Ctx, sha: string, contentType: string, filename: string, missing: string): Promise<void> {
    const blob = await c.store.openBlob(sha);
    if (!blob) throw new ApiError(404, missing);
    c.res.writeHead(200, { 'content-type': contentType, 'content-length': blob.length, 'content-disposition': contentDisposition(filename), ...DOWNLOAD_HEADERS });
    if (c.req.method === 'HEAD' || blob.length === 0) {
      blob.stream.destroy();
      c.res.end();
      return;
    }
    await pipeline(blob.stream, c.res);
  }

  http.on(
    'GET',
    '/v1/tickets',
    handle(async (c) => {
      const q = parseQuery(c.url, listQuery) as { company?: string; contract?: string; status?: TicketStatus; since?: string; cursor?: string; limit: number; order: 'asc' | 'desc' };
      if (q.since !== undefined && Number.isNaN(Date.parse(q.since))) {
        throw new ApiError(400, 'invalid query: since must be an ISO 8601 date-time with a time zone', [{ field: 'since', message: 'must be an ISO 8601 date-time with a time zone, e.g. 2024-05-01T00:00:00Z' }]);
      }
      const page = await c.store.list({
        companies: c.who.companies,
        limit: q.limit,
        order: q.order,
        ...(q.company !== undefined && { company: q.company }),
        ...(q.contract !== undefined && { contract: q.contract }),
        ...(q.status !== undefined && { status: q.status }),
        ...(q.since !== undefined && { since: q.since }),
        ...(q.cursor !== undefined && { cursor: q.cursor }),
      });
      const base = baseUrl();
      sendApiJson(c.res, 200, { items: page.items.map((t) => summaryView(t, base)), next: page.next });
    }),
  );

  http.on(
    'GET',
    '/v1/tickets/[^/]+',
    handle(async (c) => {
      parseQuery(c.url, noQuery);
      const t = await load(c, c.parts[0]);
      sendApiJson(c.res, 200, ticketView(t, { baseUrl: baseUrl(), sanitize: (h, key) => html.get(h, key) }));
    }),
  );

  http.on(
    'GET',
    '/v1/tickets/[^/]+/articles/[^/]+/raw',
    handle(async (c) => {
      parseQuery(c.url, noQuery);
      const t = await load(c, c.parts[0]);
      const { n } = parsePath({ n: c.parts[2] ?? '' }, articlePath) as { n: number };
      const a = t.articles.find((x) => x.no === n);
      if (!a) throw new ApiError(404, 'article not found');
      if (!a.rawRef) throw new ApiError(404, 'the raw message of this article was not kept');
      await sendBlob(c, a.rawRef, 'message/rfc822', `${t.id}-${a.no}.eml`, 'the raw message of this article is not available');
    }),
  );

  http.on(
    'GET',
    '/v1/tickets/[^/]+/attachments/[^/]+',
    handle(async (c) => {
      parseQuery(c.url, noQuery);
      const t = await load(c, c.parts[0]);
      const found = findAttachment(t, c.parts[2] ?? '');
      if (!found) throw new ApiError(404, 'attachment not found');
      const { attachment } = found;
      const type = safeContentType(attachment.contentType);
      if (attachment.size === 0) {
        // Empty parts are not written to the blob store.
        c.res.writeHead(200, { 'content-type': type, 'content-length': 0, 'content-disposition': contentDisposition(attachment.filename), ...DOWNLOAD_HEADERS });
        c.res.end();
        return;
      }
      await sendBlob(c, attachment.id, type, attachment.filename, 'the content of this attachment was not kept (too large at intake)');
    }),
  );

  for (const action of ['approve', 'reject'] as const) {
    http.on(
      'POST',
      `/v1/tickets/[^/]+/${action}`,
      handle(async (c) => {
        parseQuery(c.url, noQuery);
        const body = await readJsonBody(c.req, action === 'approve' ? approveBody : rejectBody);
        const id = c.parts[0];
        await visible(c, id);
        const ticketId = id as string;
        const prev = locks.get(ticketId) ?? Promise.resolve();
        const run = prev.catch(() => undefined).then(async () => {
          const t = await c.store.summary(ticketId);
          if (!t || !canSee(c.who, t.company)) throw new ApiError(404, NOT_FOUND);
          const status = t.status;
          if (status !== 'held') throw Object.assign(new ApiError(409, `ticket is ${status}, not held: only held tickets can be ${action === 'approve' ? 'approved' : 'rejected'}`), { current: status });
          const to: TicketStatus = action === 'approve' ? 'open' : REJECTED_STATUS;
          // Its held webhook deliveries go with it: queued now (approve) or cancelled (reject).
          const r = await c.store.setStatus(ticketId, to);
          if (!r.found) throw new ApiError(404, NOT_FOUND);
          if (r.deliveries.some((x) => x.status === 'pending')) d.webhooks?.kick();
        });
        locks.set(ticketId, run);
        try {
          await run;
        } catch (e) {
          if (e instanceof ApiError && e.status === 409) {
            return sendApiJson(c.res, 409, { error: e.message, status: (e as ApiError & { current: string }).current });
          }
          throw e;
        } finally {
          if (locks.get(ticketId) === run) locks.delete(ticketId);
        }
        const note = action === 'approve' ? body['comment'] : body['reason'];
        d.log.info({ ticket: ticketId, action, by: c.who.name, ...(typeof note === 'string' && { note }) }, `held ticket ${action === 'approve' ? 'approved' : 'rejected'}`);
        const s = await c.store.summary(ticketId);
        if (!s) throw new ApiError(404, NOT_FOUND);
        sendApiJson(c.res, 200, summaryView(s, baseUrl()));
      }),
    );
  }
}
