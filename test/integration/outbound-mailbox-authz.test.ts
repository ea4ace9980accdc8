// A company-scoped token sends only through mailboxes its company may use, whichever layer picked
// the mailbox: a global workflow naming beta's mailbox must not let acme's token send as beta with
// beta's credentials (403, nothing reaches beta's server). The global default, a platform mailbox
// (no company names it), the company's own and a mailbox shared by being named in several companies'
// config stay usable (202 and delivered). Real daemon, real SMTP servers.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { waitFor } from '../support/daemon-config.js';
import { api, writeOutboundConfig } from './outbound-support.js';

const TOKENS = { acme: 'acme-token-0123456789abcdef', beta: 'beta-token-0123456789abcdef', gamma: 'gamma-token-0123456789abcdef', admin: 'admin-token-0123456789abcdef' };
type Who = keyof typeof TOKENS;

let peers: Record<'default' | 'acme' | 'beta' | 'shared' | 'platform', SmtpPeer>;
let daemon: Daemon;
let root: string;
let base: string;

beforeAll(async () => {
  const [d, a, b, s, p] = await Promise.all([startSmtpServer(), startSmtpServer(), startSmtpServer({ auth: { user: 'desk@beta.example', pass: 'beta-smtp-password' } }), startSmtpServer(), startSmtpServer()]);
  peers = { default: d!, acme: a!, beta: b!, shared: s!, platform: p! };
  const out = (peer: SmtpPeer, address: string, extra: Record<string, unknown> = {}) => ({ address, outbound: { host: '127.0.0.1', port: peer.port, security: 'none', from: { address }, ...extra } });
  const cfg = await writeOutboundConfig({
    server: { listen: '127.0.0.1:0', apiTokens: (Object.keys(TOKENS) as Who[]).map((w) => ({ name: w, token: TOKENS[w], companies: [w === 'admin' ? '*' : w] })) },
    defaults: { outbound: { host: '127.0.0.1', port: peers.default.port, security: 'none', from: { address: 'noreply@platform.example' } } },
    companies: {
      acme: { contracts: { main: { outbound: 'acme-desk' }, joint: { outbound: 'shared-desk' } } },
      beta: { contracts: { main: { outbound: 'beta-desk' }, joint: { outbound: 'shared-desk' } } },
      gamma: { contracts: { main: {} } },
    },
    mailboxes: {
      'acme-desk': out(peers.acme, 'desk@acme.example'),
      'beta-desk': { ...out(peers.beta, 'desk@beta.example'), auth: { user: 'desk@beta.example', password: 'beta-smtp-password' } },
      'shared-desk': out(peers.shared, 'desk@joint.example'),
      'platform-noreply': out(peers.platform, 'noreply@platform.example'),
    },
    workflows: {
      'beta-flow': { outbound: 'beta-desk' },
      'shared-flow': { outbound: 'shared-desk' },
      'platform-flow': { outbound: 'platform-noreply' },
      'default-flow': { outbound: 'default' },
      approval: { outbound: 'contract' },
    },
  });
  root = cfg.root;
  daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  base = `http://127.0.0.1:${daemon.http.address()!.port}`;
});

afterAll(async () => {
  await daemon?.stop();
  await Promise.all(Object.values(peers ?? {}).map((p) => p.close()));
  if (root) await rm(root, { recursive: true, force: true });
});

const send = (who: Who, body: Record<string, unknown>) =>
  api(base, TOKENS[who]).post('/v1/messages', { kind: 'user', to: ['maria@client.example'], subject: `${who} ${JSON.stringify(body)}`, text: 'hello', ...body });

async function sentTo(peer: SmtpPeer, id: string) {
  await waitFor(async () => (await api(base, TOKENS.admin).get(`/v1/messages/${id}`)).body.status === 'sent', 10_000, `message ${id} sent`);
  return peer.messages.at(-1)!;
}

describe('POST /v1/messages: the mailbox the resolver chose must be one the company may use', () => {
  it("acme's token with a workflow naming beta's mailbox: 403 naming the mailbox, its owner and the workflow; nothing sent", async () => {
    const r = await send('acme', { company: 'acme', workflow: 'beta-flow' });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('mailbox beta-desk (chosen by workflow beta-flow) belongs to company beta: mail of company acme may not be sent through it');
    const withContract = await send('acme', { company: 'acme', contract: 'main', workflow: 'beta-flow' });
    expect(withContract.status).toBe(403);
    // gamma shares nothing: the joint mailbox of acme and beta is not gamma's either
    expect((await send('gamma', { company: 'gamma', workflow: 'shared-flow' })).status).toBe(403);
    expect((await send('gamma', { company: 'gamma', workflow: 'beta-flow' })).status).toBe(403);
    await new Promise((r) => setTimeout(r, 300));
    expect(peers.beta.messages).toHaveLength(0);
    expect(peers.beta.attempts.mail).toBe(0);
    expect(peers.shared.messages).toHaveLength(0);
    expect(daemon.outbox!.store.size).toBe(0);
  });

  it("beta's own token with beta-flow: 202 and sent through beta's server", async () => {
    const r = await send('beta', { company: 'beta', workflow: 'beta-flow' });
    expect(r.status).toBe(202);
    expect(r.body.mailbox).toBe('beta-desk');
    const m = await sentTo(peers.beta, r.body.id);
    expect(m.envelope.from).toBe('desk@beta.example');
    expect(m.auth).toBe('desk@beta.example');
  });

  it('a mailbox shared by acme and beta (named in both companies\' contracts): 202 for both', async () => {
    for (const who of ['acme', 'beta'] as const) {
      const r = await send(who, { company: who, workflow: 'shared-flow' });
      expect([who, r.status, r.body.mailbox]).toEqual([who, 202, 'shared-desk']);
      expect((await sentTo(peers.shared, r.body.id)).envelope.from).toBe('desk@joint.example');
    }
  });

  it('a platform mailbox (no company names it), the global default and the contract mailbox: 202 for any company', async () => {
    for (const who of ['acme', 'gamma'] as const) {
      const p = await send(who, { company: who, workflow: 'platform-flow' });
      expect([who, p.status, p.body.mailbox]).toEqual([who, 202, 'platform-noreply']);
      await sentTo(peers.platform, p.body.id);
      const d = await send(who, { company: who, workflow: 'default-flow' });
      expect([who, d.status, d.body.mailbox]).toEqual([who, 202, 'default']);
      await sentTo(peers.default, d.body.id);
    }
    const c = await send('acme', { company: 'acme', contract: 'main', workflow: 'approval' });
    expect([c.status, c.body.mailbox]).toEqual([202, 'acme-desk']);
    await sentTo(peers.acme, c.body.id);
  });

  it('an admin token (companies ["*"]) may send any company\'s mail through any mailbox, as with an explicit mailbox', async () => {
    const r = await send('admin', { company: 'acme', workflow: 'beta-flow' });
    expect([r.status, r.body.mailbox]).toEqual([202, 'beta-desk']);
    await sentTo(peers.beta, r.body.id);
  });
});
