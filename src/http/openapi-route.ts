// GET /openapi.json: the API's contract (src/http/openapi-document.ts), open to anyone like the
// health checks: it names routes and schemas, never a company, mailbox or token.
import { openApiText } from './openapi-document.js';
import type { HttpServer } from './server.js';

export function registerOpenApiRoute(http: HttpServer): void {
  http.on('GET', '/openapi.json', (_req, res) => {
    const text = openApiText();
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(text);
  });
}
