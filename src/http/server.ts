// The daemon's HTTP endpoint: a tiny router over node:http. Health and readiness are answered
// without I/O; other handlers (metrics, status, API) are registered by the parts that own them.
// node:http's own limits would let idle or slow-header clients hold connections for minutes, with
// no cap on their number: listen() sets server.headersTimeout & co from the config.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HttpLimits } from '../config/snapshot.js';
import type { Logger } from '../observability/logger.js';

/** The schema's defaults (server.headersTimeout ...), for servers started without a config. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, maxConnections: 256 };

export type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>, url: URL) => Promise<void> | void;

interface RouteEntry {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export class HttpServer {
  private routes: RouteEntry[] = [];
  private server: Server | null = null;
  ready = false;
  /** Why this replica cannot do its work although started (e.g. its store is unreachable): /-/ready answers 503 with it. */
  unready: string | null = null;
  /** Connections refused because maxConnections were open (since start). */
  dropped = 0;
  /** Every route as registered (method and path pattern): the OpenAPI test checks each is documented. */
  readonly registered: { method: string; path: string }[] = [];

  constructor(private log: Logger) {
    this.on('GET', '/-/healthy', (_q, res) => sendJson(res, 200, { status: 'ok' }));
    this.on('GET', '/-/ready', (_q, res) => sendJson(res, this.isReady ? 200 : 503, this.isReady ? { status: 'ready' } : { status: 'not ready', reason: this.ready ? this.unready : 'starting or stopping' }));
  }

  /** Started, not stopping, and nothing that keeps it from working. */
  get isReady(): boolean {
    return this.ready && this.unready === null;
  }

  /** Register a route; `:name` segments become params. */
  on(method: string, path: string, handler: Handler): void {
    this.registered.push({ method, path });
    const keys: string[] = [];
    const pattern = new RegExp('^' + path.replace(/:([a-zA-Z]+)/g, (_m, k: string) => (keys.push(k), '([^/]+)')) + '$');
    this.routes.push({ method, pattern, keys, handler });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendJson(res, 400, { error: 'bad request line' });
    }
    const matching = this.routes.filter((r) => r.pattern.test(url.pathname));
    const route = matching.find((r) => r.method === req.method || (req.method === 'HEAD' && r.method === 'GET'));
    if (!route) return sendJson(res, matching.length ? 405 : 404, { error: matching.length ? 'method not allowed' : 'not found' });
    const m = route.pattern.exec(url.pathname)!;
    const params: Record<string, string> = {};
    try {
      route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? '')));
    } catch {
      return sendJson(res, 400, { error: 'malformed percent-encoding in the path' });
    }
    try {
      await route.handler(req, res, params, url);
    } catch (err) {
      this.log.error({ err, path: url.pathname }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  }

  listen(host: string, port: number, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Promise<void> {
    const server = (this.server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        // how often node looks for connections past those timeouts (its default, 30 s, would let a
        // slow client stay up to 30 s longer than headersTimeout)
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      },
      (req, res) => void this.dispatch(req, res),
    ));
    server.maxConnections = limits.maxConnections;
    server.on('drop', (d?: { remoteAddress?: string }) => {
      // Logged once per 100 so a flood does not flood the log too.
      if (this.dropped++ % 100 === 0) this.log.warn({ dropped: this.dropped, maxConnections: limits.maxConnections, remote: d?.remoteAddress }, 'http connection refused: maxConnections open');
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  address(): { host: string; port: number } | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : null;
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
