// A real HTTP webhook receiver on loopback for the tests: verifies signatures like a real receiver
// would, dedupes on the delivery id, and can be told to fail, go down, or come back.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../src/sinks/webhook/signature.js';

export interface Received {
  deliveryId: string;
  event: string;
  body: Record<string, any>;
  signatureValid: boolean;
  at: number;
}

export interface Receiver {
  url: string;
  port: number;
  /** Every accepted request (2xx answered), in arrival order, duplicates included. */
  accepted: Received[];
  /** Every request seen, including the failed ones. */
  attempts: { deliveryId: string; status: number }[];
  /** Answer the next n requests with `status` (e.g. 503, 400). */
  failNext(n: number, status: number, headers?: Record<string, string>): void;
  /** Unique accepted deliveries (what a receiver deduping on the delivery id keeps). */
  unique(): Map<string, Received>;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(secret: string, port = 0): Promise<Receiver> {
  const accepted: Received[] = [];
  const attempts: { deliveryId: string; status: number }[] = [];
  let failures: { n: number; status: number; headers: Record<string, string> } = { n: 0, status: 200, headers: {} };
  let server: Server;
  const listen = (p: number) =>
    new Promise<Server>((resolve) => {
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const deliveryId = String(req.headers['x-mailroom-delivery'] ?? '');
          const valid = verifySignature(secret, req.headers['x-mailroom-signature'] as string, req.headers['x-mailroom-timestamp'] as string, body);
          let status = 200;
          if (!valid) status = 401;
          else if (failures.n > 0) {
            failures.n--;
            status = failures.status;
          }
          attempts.push({ deliveryId, status });
          if (status === 200) accepted.push({ deliveryId, event: String(req.headers['x-mailroom-event']), body: JSON.parse(body), signatureValid: valid, at: Date.now() });
          res.writeHead(status, { 'content-type': 'text/plain', ...(status !== 200 ? failures.headers : {}) });
          res.end(status === 200 ? 'ok' : 'nope');
        });
      });
      s.listen(p, '127.0.0.1', () => resolve(s));
    });
  server = await listen(port);
  const actualPort = (server.address() as AddressInfo).port;
  const close = () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
  return {
    url: `http://127.0.0.1:${actualPort}/hook`,
    port: actualPort,
    accepted,
    attempts,
    failNext: (n, status, headers = {}) => (failures = { n, status, headers }),
    unique: () => new Map(accepted.map((a) => [a.deliveryId, a])),
    down: close,
    up: async () => {
      server = await listen(actualPort);
    },
    close,
  };
}
