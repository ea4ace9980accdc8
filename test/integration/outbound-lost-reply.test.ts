// The other side of the commit point, while mailroom keeps running: the connection dies after the
// end of data and before the server's reply. The network failed (not us), so the server may or may
// not have the message: it is sent again — at least once, never lost — with the same Message-ID,
// and flagged `possibleDuplicate`. A connection that dies BEFORE the end of data is retried with no
// flag (the server cannot have accepted a message it never got the end of).
//
// The peer is a minimal SMTP responder on a real socket, because it must hang up at an exact point
// of the conversation, which smtp-server does not offer.
import { startOutboundIn } from '../support/outbox.js';
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadFromSources } from '../../src/config/load.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { createLogger } from '../../src/observability/logger.js';
import { startOutbound, type Outbox } from '../../src/outbound/index.js';
import { submitMessage } from '../../src/outbound/submit.js';
import { waitFor } from '../support/daemon-config.js';
import { writeOutboundConfig } from './outbound-support.js';

type Plan = 'hangup-after-dot' | 'hangup-before-data' | 'accept';
let plans: Plan[] = [];
const accepted: string[] = [];
const sawDot: string[] = [];
let server: Server;
let outbox: Outbox;
let snap: Snapshot;
let root: string;

function session(sock: Socket): void {
  let buf = '';
  let inData = false;
  sock.write('220 test ESMTP\r\n');
  sock.on('error', () => undefined);
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (;;) {
      if (inData) {
        const plan = plans[0] ?? 'accept';
        const end = buf.indexOf('\r\n.\r\n');
        if (end < 0) return;
        const mid = /^Message-ID:\s*<([^>]+)>/im.exec(buf.slice(0, end))?.[1] ?? '?';
        buf = buf.slice(end + 5);
        inData = false;
        sawDot.push(mid);
        plans.shift();
        if (plan === 'hangup-after-dot') return void sock.destroy();
        accepted.push(mid);
        sock.write('250 2.0.0 queued\r\n');
        continue;
      }
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') sock.write('250-test\r\n250 8BITMIME\r\n');
      else if (verb === 'RCPT' && plans[0] === 'hangup-before-data') {
        plans.shift();
        return void sock.destroy();
      }
      else if (verb === 'DATA') {
        inData = true;
        sock.write('354 go ahead\r\n');
      } else if (verb === 'QUIT') return void sock.end('221 bye\r\n');
      else sock.write('250 ok\r\n');
    }
  });
}

beforeAll(async () => {
  server = createServer(session);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const cfg = await writeOutboundConfig({});
  root = cfg.root;
  const text = stringify({
    version: 1,
    store: { path: cfg.dataDir },
    companies: { acme: { contracts: { main: { outbound: 'acme-out' } } } },
    mailboxes: { 'acme-out': { address: 'support@acme.example', outbound: { host: '127.0.0.1', port, security: 'none', maxConnections: 1, from: { address: 'support@acme.example' } } } },
  });
  snap = loadFromSources([{ name: 'x.yaml', absolute: '/x.yaml', text }], { env: {} }).snapshot!;
  outbox = await startOutboundIn(snap.store.path, { snapshot: () => snap, log: createLogger('silent') }, { initialBackoffMs: 50, maxBackoffMs: 100, laneBackoffMs: 20, random: () => 0.5 });
});

afterAll(async () => {
  await outbox?.stop();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(root, { recursive: true, force: true });
});

const send = (subject: string) =>
  submitMessage(outbox, snap, { purpose: 'message', company: 'acme', contract: 'main', kind: 'user', to: ['c@client.example'], subject, text: 'x' });

describe('connection lost around the end of data', () => {
  it('after the end of data: sent again with the same Message-ID, flagged possibleDuplicate', async () => {
    plans = ['hangup-after-dot', 'accept'];
    const { entry } = await send('lost reply');
    await waitFor(() => outbox.get(entry.id)?.status === 'sent', 10_000, 'sent');
    expect(outbox.get(entry.id)).toMatchObject({ status: 'sent', attempts: 2, possibleDuplicate: true, confirmed: true });
    expect(sawDot.filter((m) => m === entry.messageId)).toHaveLength(2);
    expect(accepted.filter((m) => m === entry.messageId)).toHaveLength(1);
  });

  it('before the end of data: retried, not flagged', async () => {
    plans = ['hangup-before-data', 'accept'];
    const { entry } = await send('cut before data');
    await waitFor(() => outbox.get(entry.id)?.status === 'sent', 10_000, 'sent');
    expect(outbox.get(entry.id)).toMatchObject({ status: 'sent', attempts: 2, possibleDuplicate: false, confirmed: true });
    expect(sawDot.filter((m) => m === entry.messageId)).toHaveLength(1);
  });
});
