// Ids from a request that are member names of every JavaScript object (`__proto__`, `constructor`,
// `toString` ...) are unknown ids like any other: 404 (or 422 in a message body), never a lookup that
// finds Object.prototype's members (a 200 that rewrote the suspension file, or a 500).
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { api, writeOutboundConfig } from './outbound-support.js';

const ADMIN = 'admin-token-0123456789abcdef';
const ACME = 'acme-token-0123456789abcdef';
const NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'];

let smtp: SmtpPeer;
let daemon: Daemon;
let root: string;
let dataDir: string;
let admin: ReturnType<typeof api>;
let acme: ReturnType<typeof api>;

beforeAll(async () => {
  smtp = await startSmtpServer();
  const cfg = await writeOutboundConfig({
    server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'admin', token: ADMIN, companies: ['*'] }, { name: 'acme', token: ACME, companies: ['acme'] }] },
    defaults: { outbound: { host: '127.0.0.1', port: smtp.port, security: 'none', from: { address: 'noreply@platform.example' } } },
    companies: { acme: { contracts: { main: { outbound: 'acme-out' } } } },
    mailboxes: { 'acme-out': { outbound: { host: '127.0.0.1', port: smtp.port, security: 'none', from: { address: 'desk@acme.example' } } } },
    webhooks: { erp: { url: 'http://127.0.0.1:9/hook', secret: 'webhook-secret-0123456789' } },
    workflows: { approval: { outbound: 'contract' } },
  });
  root = cfg.root;
  dataDir = cfg.dataDir;
  daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  const base = `http://127.0.0.1:${daemon.http.address()!.port}`;
  admin = api(base, ADMIN);
  acme = api(base, ACME);
});

afterAll(async () => {
  await daemon?.stop();
  await smtp?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('object member names as ids in the API', () => {
  it('POST /v1/mailboxes/<name>/resume: 404 for admin and scoped tokens; the suspension file is not written', async () => {
    for (const name of NAMES) {
      for (const who of [admin, acme]) {
        const r = await who.post(`/v1/mailboxes/${name}/resume`, undefined);
        expect({ name, status: r.status, body: r.body }).toEqual({ name, status: 404, body: { error: `mailbox ${name} not found` } });
      }
    }
    expect(existsSync(join(dataDir, 'suspensions.json'))).toBe(false);
  });

  it('POST /v1/webhooks/<name>/replay and GET /v1/messages/<name>, /v1/tickets/<name>: 404', async () => {
    for (const name of NAMES) {
      expect((await admin.post(`/v1/webhooks/${name}/replay`, undefined)).status).toBe(404);
      expect((await admin.get(`/v1/messages/${name}`)).status).toBe(404);
      expect((await admin.get(`/v1/tickets/${name}`)).status).toBe(404);
      expect((await acme.get(`/v1/tickets/${name}`)).status).toBe(404);
      expect((await admin.post(`/v1/tickets/${name}/reply`, { text: 'x' })).status).toBe(404);
    }
  });

  it('GET /v1/tickets?company=<name>: an empty page (admin), 200 not 500', async () => {
    for (const name of NAMES.filter((n) => /^[A-Za-z0-9]/.test(n))) {
      const r = await admin.get(`/v1/tickets?company=${name}&contract=${name}`);
      expect({ name, status: r.status, items: r.body.items }).toEqual({ name, status: 200, items: [] });
    }
  });

  it('POST /v1/messages naming them as company, contract, workflow or mailbox: 422 (403 for a scoped token\'s company), nothing queued', async () => {
    const base = { company: 'acme', kind: 'user', to: ['x@client.example'], subject: 'hi', text: 'hi' };
    const not = { company: 'is not configured', contract: 'is not a contract of company acme', workflow: 'is not configured', mailbox: 'is not configured' };
    for (const name of NAMES.filter((n) => n !== '__proto__')) {
      for (const field of ['company', 'contract', 'workflow', 'mailbox'] as const) {
        const a = await admin.post('/v1/messages', { ...base, [field]: name });
        expect([field, name, a.status, a.body.error]).toEqual([field, name, 422, `${field} ${name} ${not[field]}`]);
        const s = await acme.post('/v1/messages', { ...base, [field]: name });
        if (field === 'company') expect([name, s.status]).toEqual([name, 403]);
        else expect([field, name, s.status, s.body.error]).toEqual([field, name, 422, `${field} ${name} ${not[field]}`]);
      }
    }
    // `__proto__` is not even an id (the request schema's pattern): 400 naming the field
    const p = await admin.post('/v1/messages', { ...base, mailbox: '__proto__' });
    expect([p.status, p.body.details?.[0]?.field]).toEqual([400, 'mailbox']);
    expect(daemon.outbox!.store.size).toBe(0);
  });
});
