// Why this file exists: the one place mailroom talks HTTP to Microsoft Graph for a mailbox, inbound
// and outbound: a bearer token from the mailbox's OAuth2 token cache (renewed once on a 401), at most
// 4 requests in flight per mailbox (Graph's MailboxConcurrency limit), 429/503 answered by waiting
// the Retry-After the service asked for (per mailbox: others never wait), links followed only on the
// API's own origin (a bearer token never goes to another host), and Graph's error body turned into a
// GraphApiError that errors.ts classifies by its HTTP status. Plain fetch: the Graph SDK adds a
// middleware chain and a second retry policy, and mailroom needs only a dozen calls.
import type { ResolvedAuth } from '../config/snapshot.js';
import { credentialsFor } from '../inbound/credentials.js';
import { abortableSleep } from '../inbound/session.js';
import { activeOAuthManager } from '../oauth/registry.js';
import { Semaphore } from './semaphore.js';

export const MAILBOX_CONCURRENCY = 4;
/** Throttled answers retried per request before the poll fails (and the poller backs off). */
const MAX_THROTTLE_RETRIES = 6;
/** The longest Retry-After honoured inside a request; a longer one fails the poll with its time. */
const MAX_RETRY_AFTER_MS = 120_000;

export class GraphApiError extends Error {
  readonly httpStatus: number;
  /** Graph's error code (ErrorAccessDenied, SyncStateNotFound ...) */
  readonly graphCode: string;
  /** 401: the token was refused (classifyError: auth) */
  readonly authenticationFailed: boolean;
  readonly retryAfterMs: number | null;
  constructor(status: number, code: string, message: string, retryAfterMs: number | null = null, service = 'Graph') {
    super(`${service} HTTP ${status} ${code}: ${message}`);
    this.name = 'GraphApiError';
    this.httpStatus = status;
    this.graphCode = code;
    this.authenticationFailed = status === 401;
    this.retryAfterMs = retryAfterMs;
  }
}

export const isGraphError = (e: unknown, status?: number): e is GraphApiError => e instanceof GraphApiError && (status === undefined || e.httpStatus === status);

/** Retry-After in ms (seconds or an HTTP date), or null (pure). */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const t = Date.parse(header);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

/** Per mailbox, shared by its poller and its sender: the concurrency limit and the throttle pause. */
interface MailboxGate {
  slots: Semaphore;
  /** epoch ms: Graph asked this mailbox to wait (Retry-After) until then; no request goes out before */
  pausedUntil: number;
}

const gates = new Map<string, MailboxGate>();
function gateFor(mailbox: string): MailboxGate {
  let g = gates.get(mailbox);
  if (!g) gates.set(mailbox, (g = { slots: new Semaphore(MAILBOX_CONCURRENCY), pausedUntil: 0 }));
  return g;
}

export interface GraphRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** a path under the mailbox (`/mailFolders/inbox`) or an absolute link the API gave */
  path: string;
  json?: unknown;
  /** a text/plain body (sendMail with MIME: base64) */
  text?: string;
  /** raw bytes with their content type (Gmail's media upload) */
  body?: Buffer;
  contentType?: string;
  prefer?: string[];
  signal?: AbortSignal;
}

export interface GraphClientOptions {
  /** 'Graph' (default) or 'Gmail': names the API in errors */
  service?: string;
  /** The mailbox's part of the API's paths (default Graph's `/users/{user}`; Gmail: `/gmail/v1/users/{user}`) */
  userPath?: string;
  mailbox: string;
  apiUrl: string;
  auth: ResolvedAuth;
  timeoutMs?: number;
  /** Where the token comes from (default: the mailbox's token cache); test-mailbox brings its own. */
  accessToken?: () => Promise<string>;
  /** Told about each throttled wait (status, log). */
  onThrottled?: (waitMs: number, status: number) => void;
}

export class GraphClient {
  private readonly origin: string;
  private readonly userBase: string;
  private readonly gate: MailboxGate;

  constructor(private readonly opts: GraphClientOptions) {
    const u = new URL(opts.apiUrl);
    this.origin = u.origin;
    this.userBase = `${opts.apiUrl.replace(/\/+$/, '')}${opts.userPath ?? `/users/${encodeURIComponent(opts.auth.user)}`}`;
    this.gate = gateFor(opts.mailbox);
  }

  /** The absolute URL of a mailbox path; an absolute link must be on the API's origin. */
  url(path: string): string {
    if (!/^https?:\/\//i.test(path)) return `${this.userBase}${path}`;
    if (new URL(path).origin !== this.origin) throw new GraphApiError(0, 'ForeignLink', `the API gave a link to another host (${new URL(path).host}); not followed with the mailbox's token`);
    return path;
  }

  async json<T>(req: GraphRequest): Promise<T> {
    return this.request(req, async (res) => {
      const text = await res.text();
      return (text ? JSON.parse(text) : {}) as T;
    });
  }

  /**
   * A 2xx response, read by `read` while the request still holds its slot (a body being read is a
   * request in flight to Graph too).
   */
  async request<T>(req: GraphRequest, read: (res: Response) => Promise<T>): Promise<T> {
    const url = this.url(req.path);
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      const out = await this.gate.slots.run(async () => {
        // Throttled: the whole mailbox waits what Graph asked for, not only the refused request.
        for (let wait = this.gate.pausedUntil - Date.now(); wait > 0; wait = this.gate.pausedUntil - Date.now())
          await abortableSleep(wait, req.signal ?? new AbortController().signal);
        const res = await this.once(url, req);
        if (res.ok) return { ok: true as const, value: await read(res) };
        return { ok: false as const, status: res.status, body: await res.text().catch(() => ''), retryAfter: res.headers.get('retry-after') };
      });
      if (out.ok) return out.value;
      const res = out;
      const err = graphError(res.status, res.body, res.retryAfter, this.opts.service);
      if (res.status === 401 && !renewed) {
        // An expired or revoked token: one new token, then the refusal counts (suspension).
        renewed = true;
        activeOAuthManager()?.invalidate(this.opts.mailbox);
        continue;
      }
      if ((res.status === 429 || res.status === 503) && attempt < MAX_THROTTLE_RETRIES && !req.signal?.aborted) {
        const wait = err.retryAfterMs ?? Math.min(1000 * 2 ** attempt, 30_000);
        if (wait <= MAX_RETRY_AFTER_MS) {
          this.opts.onThrottled?.(wait, res.status);
          this.gate.pausedUntil = Math.max(this.gate.pausedUntil, Date.now() + wait);
          continue;
        }
      }
      throw err;
    }
  }

  private async once(url: string, req: GraphRequest): Promise<Response> {
    const token = this.opts.accessToken ? { accessToken: await this.opts.accessToken() } : ((await credentialsFor(this.opts.mailbox, this.opts.auth)) as { accessToken?: string });
    if (!token.accessToken) throw Object.assign(new Error(`mailbox ${this.opts.mailbox}: Graph needs auth.oauth2`), { code: 'ECONFIG' });
    const headers: Record<string, string> = { authorization: `Bearer ${token.accessToken}`, accept: 'application/json' };
    if (req.prefer?.length) headers.prefer = req.prefer.join(', ');
    let body: string | Buffer | undefined;
    if (req.body !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/octet-stream';
      body = req.body;
    } else if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.text !== undefined) {
      headers['content-type'] = 'text/plain';
      body = req.text;
    }
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 60_000);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    try {
      return await fetch(url, { method: req.method ?? 'GET', headers, body, redirect: 'error', signal });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      if (err.name === 'TimeoutError') throw Object.assign(new Error(`Graph request timed out (${new URL(url).host})`), { code: 'ETIMEDOUT' });
      throw Object.assign(new Error(`Graph request failed: ${err.cause?.code ?? err.message}`), { code: err.cause?.code ?? 'ECONNRESET' });
    }
  }
}

/** Graph's error body (`{ error: { code, message } }`) as a GraphApiError (pure). */
export function graphError(status: number, body: string, retryAfter: string | null, service = 'Graph'): GraphApiError {
  let code = `HTTP${status}`;
  let message = '';
  try {
    // Graph: { error: { code: 'ErrorAccessDenied', message } }; Google: { error: { code: 403, message, status, errors: [{ reason }] } }
    const e = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown; status?: unknown; errors?: { reason?: unknown }[] } }).error;
    if (typeof e?.code === 'string') code = e.code;
    else if (typeof e?.errors?.[0]?.reason === 'string') code = e.errors[0].reason;
    else if (typeof e?.status === 'string') code = e.status;
    if (typeof e?.message === 'string') message = e.message;
  } catch {
    message = body.slice(0, 200);
  }
  return new GraphApiError(status, code, message.slice(0, 300), retryAfterMs(retryAfter), service);
}

/** The same client serves the Gmail API (Google's error bodies, its own paths). */
export { GraphClient as ApiClient };
