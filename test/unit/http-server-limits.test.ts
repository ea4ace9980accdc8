// HttpServer applies the configured limits to real sockets: a connection that never sends a byte is
// closed at headersTimeout (node answers 408), a served keep-alive connection at keepAliveTimeout.
// (Before, node's defaults applied: 60 s for headers, no cap on connections.) A client must read
// to see the close: the server's FIN arrives after its 408.
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { HttpServer } from '../../src/http/server.js';

let server: HttpServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

function socketLife(port: number, send?: string): Promise<{ ms: number; first: string }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('error', () => undefined);
    const giveUp = setTimeout(() => s.destroy(), 8000);
    s.on('close', () => {
      clearTimeout(giveUp);
      resolve({ ms: Date.now() - t0, first: data.split('\r\n')[0] ?? '' });
    });
    if (send) s.write(send);
  });
}

describe('HttpServer: idle connections', () => {
  it('a connection that sends nothing is closed at headersTimeout (1 s here) with a 408', async () => {
    server = new HttpServer(createLogger('silent'));
    await server.listen('127.0.0.1', 0, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 3000, maxConnections: 10 });
    const port = server.address()!.port;
    const lives = await Promise.all([socketLife(port), socketLife(port), socketLife(port)]);
    for (const l of lives) {
      expect(l.first).toBe('HTTP/1.1 408 Request Timeout');
      expect(l.ms).toBeGreaterThanOrEqual(900);
      expect(l.ms).toBeLessThan(2500);
    }
  });

  it('a connection that was served stays for keepAliveTimeout, not headersTimeout', async () => {
    server = new HttpServer(createLogger('silent'));
    await server.listen('127.0.0.1', 0, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 3000, maxConnections: 10 });
    const l = await socketLife(server.address()!.port, 'GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(l.first).toBe('HTTP/1.1 200 OK');
    expect(l.ms).toBeGreaterThanOrEqual(2900);
    expect(l.ms).toBeLessThan(5000);
  });
});
