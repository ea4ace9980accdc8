// The HTTP listener's limits come from the config (server.headersTimeout, maxConnections ...), not
// node:http's defaults (an idle or slow-header connection held for a minute or more, no cap on their
// number); /metrics can move to its own listener (server.metricsListen) and require an admin token
// (server.metricsAuth: token). A real daemon over real sockets.
import { connect, type Socket } from 'node:net';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { writeOutboundConfig } from './outbound-support.js';

const ADMIN = 'admin-token-0123456789abcdef';
const ACME = 'acme-token-0123456789abcdef';
const MAX = 4;

let daemon: Daemon;
let root: string;
let configFile: string;
let port: number;
let metricsPort: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  const cfg = await writeOutboundConfig({
    server: {
      listen: '127.0.0.1:0',
      headersTimeout: '1s',
      requestTimeout: '2s',
      keepAliveTimeout: '1s',
      maxConnections: MAX,
      metricsListen: '127.0.0.1:0',
      apiTokens: [{ name: 'admin', token: ADMIN, companies: ['*'] }, { name: 'acme', token: ACME, companies: ['acme'] }],
    },
    companies: { acme: { contracts: { main: {} } } },
  });
  root = cfg.root;
  configFile = join(cfg.dir, 'mailroom.yaml');
  daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  port = daemon.http.address()!.port;
  metricsPort = daemon.metricsHttp!.address()!.port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await daemon?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A raw TCP connection; resolves once connected. Records when it was closed and what it received. */
function open(p = port): Promise<{ socket: Socket; closed: Promise<number>; data: () => string; at: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(p, '127.0.0.1');
    sockets.push(socket);
    let data = '';
    socket.on('data', (d) => (data += d));
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    socket.once('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed, data: () => data, at: Date.now() }));
    socket.once('error', reject);
  });
}

async function get(path: string, p = port, token?: string) {
  const res = await fetch(`http://127.0.0.1:${p}${path}`, { headers: { connection: 'close', ...(token && { authorization: `Bearer ${token}` }) } });
  return { status: res.status, text: await res.text() };
}

describe('HTTP listener limits', () => {
  it(`maxConnections: with ${MAX} connections open the next one is closed unanswered; once one ends, a new one is served`, async () => {
    const held = [];
    for (let i = 0; i < MAX; i++) held.push(await open());
    const extra = await open();
    const closedAt = await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(-1), 500))]);
    expect(closedAt).toBeGreaterThan(0);
    expect(closedAt - extra.at).toBeLessThan(500);
    expect(extra.data()).toBe('');
    expect(daemon.http.dropped).toBeGreaterThanOrEqual(1);
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect((await get('/-/healthy')).status).toBe(200);
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
  });

  it('a slow-header client (one header byte every 100 ms) is cut at headersTimeout (1 s), not after node\'s 60 s', async () => {
    const c = await open();
    c.socket.write('GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const trickle = setInterval(() => !c.socket.destroyed && c.socket.write('X'), 100);
    const closedAt = await c.closed;
    clearInterval(trickle);
    const held = closedAt - c.at;
    expect(held).toBeGreaterThanOrEqual(900);
    expect(held).toBeLessThan(2500);
    expect(c.data()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a connection that sends nothing is cut at headersTimeout too', async () => {
    const c = await open();
    const held = (await c.closed) - c.at;
    expect(held).toBeGreaterThanOrEqual(900);
    expect(held).toBeLessThan(2500);
  });
});

describe('/metrics', () => {
  it('with server.metricsListen: served there (only /metrics and health), not on the main listener', async () => {
    const m = await get('/metrics', metricsPort);
    expect(m.status).toBe(200);
    expect(m.text).toContain('mailroom_config_last_reload_successful 1');
    expect((await get('/-/healthy', metricsPort)).status).toBe(200);
    expect((await get('/-/ready', metricsPort)).status).toBe(200); // ready like the main listener (it was 503 for ever)
    expect((await get('/v1/status', metricsPort, ADMIN)).status).toBe(404);
    const main = await get('/metrics');
    expect(main.status).toBe(404);
    expect(main.text).toContain('server.metricsListen');
    expect((await get('/v1/status', port, ADMIN)).status).toBe(200);
  });

  it('server.metricsAuth: token (applied by a reload): 401 without a token, 403 for a company-scoped one, 200 for an admin token', async () => {
    const cfg = parse(await readFile(configFile, 'utf8')) as { server: Record<string, unknown> };
    cfg.server.metricsAuth = 'token';
    await writeFile(configFile, stringify(cfg));
    const r = await daemon.reload('manual');
    expect(r.status).toBe('applied');
    expect(r.restartRequired).toEqual([]);
    const none = await get('/metrics', metricsPort);
    expect(none.status).toBe(401);
    expect(none.text).not.toContain('mailroom_');
    expect((await get('/metrics', metricsPort, ACME)).status).toBe(403);
    expect((await get('/metrics', metricsPort, 'wrong-token-0123456789abcdef')).status).toBe(401);
    const ok = await get('/metrics', metricsPort, ADMIN);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('mailroom_config_info');
  });

  it('a changed limit or metrics listener is reported as needing a restart, and the running ones are kept', async () => {
    const cfg = parse(await readFile(configFile, 'utf8')) as { server: Record<string, unknown> };
    cfg.server.headersTimeout = '30s';
    cfg.server.requestTimeout = '60s';
    cfg.server.metricsListen = '127.0.0.1:1';
    await writeFile(configFile, stringify(cfg));
    const r = await daemon.reload('manual');
    expect(r.status).toBe('applied');
    expect(r.restartRequired.map((c) => `${c.kind} ${c.id}`)).toEqual(['server listen']);
    expect(daemon.snapshot!.server.limits.headersTimeoutMs).toBe(1000);
    expect((await get('/metrics', metricsPort, ADMIN)).status).toBe(200);
  });
});
