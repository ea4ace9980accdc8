// The webhook request on a real loopback server: same-host redirects are followed (re-POSTed),
// and an error body is read only up to 4 KB.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ResolvedWebhook } from '../../src/config/snapshot.js';
import { bodyExcerpt, post } from '../../src/sinks/webhook/request.js';

const seen: string[] = [];
let sentBytes = 0;
const srv = createServer((req, res) => {
  seen.push(`${req.method} ${req.url}`);
  req.resume();
  if (req.url === '/old') return res.writeHead(308, { location: '/new' }).end();
  if (req.url === '/new') return res.writeHead(204).end();
  res.writeHead(500);
  const chunk = ' oops\n'.repeat(10_000);
  const pump = () => {
    while (!res.destroyed && res.write(chunk)) sentBytes += chunk.length;
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
});
afterAll(() => void (srv.close(), srv.closeAllConnections()));

const hook = (url: string) => ({ url, timeoutMs: 5000 }) as ResolvedWebhook;

it('a same-host redirect is followed with the same POST', async () => {
  const res = await post(hook(`${base}/old`), '{}', { 'content-type': 'application/json' });
  expect(res.status).toBe(204);
  expect(seen.slice(-2)).toEqual(['POST /old', 'POST /new']);
});

it('an endless error body: the excerpt comes from its first 4 KB, the rest is cancelled', async () => {
  const res = await post(hook(`${base}/fail`), '{}', {});
  expect(res.status).toBe(500);
  expect(await bodyExcerpt(res)).toBe(' oops'.repeat(40));
  expect(sentBytes).toBeLessThan(50_000_000);
});
