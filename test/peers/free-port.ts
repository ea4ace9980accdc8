// Why this exists: test peers (Dovecot, SMTP) and daemon tests need loopback ports that are
// free right now, so parallel vitest workers never collide on fixed port numbers.
import { createServer } from 'node:net';

/** Bind 127.0.0.1:0, read the port the kernel picked, close, and return it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: unexpected address ' + String(addr)));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
