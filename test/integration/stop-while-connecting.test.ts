// A mailbox whose server is slow to greet (a busy server takes seconds to log a client in) must not
// hold up a reload that restarts it, nor shutdown: the stop closes the connection being opened.
// Before, the reload waited for imapflow's greeting timeout (15 s).
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { waitFor } from '../support/daemon-config.js';

let server: Server;
let port = 0;
const sockets = new Set<Socket>();
beforeAll(async () => {
  // accepts connections and never says a word
  server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

it('a reload restarting a mailbox stuck in its greeting returns at once, and so does stop', async () => {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-slow-'));
  const dir = join(root, 'config');
  await mkdir(dir);
  await writeFile(join(root, 'pw'), 'x\n');
  const file = join(dir, 'mailroom.yaml');
  await writeFile(
    file,
    stringify({
      version: 1,
      server: { listen: '127.0.0.1:0' },
      store: { path: join(root, 'data') },
      companies: { acme: { contracts: { main: { inbound: ['slow'] } } } },
      mailboxes: { slow: { inbound: { protocol: 'imap', host: '127.0.0.1', port, security: 'none', pollInterval: '60s' }, auth: { user: 'u', passwordFile: join(root, 'pw') } } },
    }),
  );
  const daemon = new Daemon({ configPath: file.replace(/mailroom\.yaml$/, ''), logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  try {
    await waitFor(() => sockets.size === 1, 5_000, 'the mailbox connecting');
    await writeFile(file, (await readFile(file, 'utf8')).replace('pollInterval: 60s', 'pollInterval: 61s'));
    const t0 = performance.now();
    const r = await daemon.reload('manual');
    expect(r.status).toBe('applied');
    expect(r.changes.map((c) => c.id)).toEqual(['slow']);
    expect(performance.now() - t0).toBeLessThan(3_000);
    await waitFor(() => sockets.size >= 1, 5_000, 'the restarted mailbox connecting');
  } finally {
    const t1 = performance.now();
    await daemon.stop();
    expect(performance.now() - t1).toBeLessThan(5_000);
  }
}, 30_000);
