// /v1/status says what an operator needs without guessing: a disabled mailbox's outbound side is
// `disabled` (not `idle`, which reads as "ready to send"), and the config the daemon started with
// is `lastReload.trigger: startup` (not `manual`, which reads as "someone reloaded it").
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { senderState } from '../../src/outbound/sender-suspension.js';
import { checkedFetch } from '../support/openapi-check.js';

const TOKEN = 'status-fields-test-token-0123456789';
let daemon: Daemon;
let base: string;
let file: string;
const smtp = { host: '127.0.0.1', port: 2525, security: 'none' };
const config = (description: string) => ({
  version: 1,
  server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: TOKEN, companies: ['*'] }] },
  defaults: { outbound: { ...smtp, from: { address: 'noreply@acme.example' } } },
  companies: { acme: { contracts: { main: { inbound: ['both-off'], outbound: 'send-off' } } } },
  mailboxes: {
    // both sides, disabled: its inbound and its outbound side are disabled
    'both-off': { enabled: false, address: 'desk@acme.example', inbound: { protocol: 'imap', host: '127.0.0.1', port: 1 }, outbound: smtp, auth: { user: 'desk', password: 'not-used-0123' } },
    'send-off': { enabled: false, description, address: 'off@acme.example', outbound: smtp },
    'send-on': { address: 'on@acme.example', outbound: smtp },
  },
});

async function status(): Promise<{ config: { lastReload: { trigger: string; status: string } }; mailboxes: { mailbox: string; protocol: string; state: string }[] }> {
  const res = await checkedFetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'mailroom-status-'));
  file = join(root, 'mailroom.yaml');
  await writeFile(file, stringify({ ...config('off'), store: { path: join(root, 'data') } }));
  daemon = new Daemon({ configPath: file, logger: createLogger('silent'), parseWorkers: 0, watch: false });
  await daemon.start();
  base = `http://127.0.0.1:${daemon.http.address()!.port}`;
});

afterAll(async () => {
  await daemon?.stop();
});

describe('/v1/status', () => {
  it('shows a disabled mailbox as disabled on its inbound and its outbound side; an enabled sender as idle', async () => {
    const { mailboxes } = await status();
    const state = (mailbox: string, protocol: string) => mailboxes.find((m) => m.mailbox === mailbox && m.protocol === protocol)?.state;
    expect(state('both-off', 'imap')).toBe('disabled');
    expect(state('both-off', 'smtp')).toBe('disabled');
    expect(state('send-off', 'smtp')).toBe('disabled');
    expect(state('send-on', 'smtp')).toBe('idle');
    expect(state('default', 'smtp')).toBe('idle');
  });

  it('says the running config came from startup, and a later reload its own trigger', async () => {
    expect((await status()).config.lastReload).toMatchObject({ status: 'applied', trigger: 'startup' });
    const root = join(file, '..');
    await writeFile(file, stringify({ ...config('changed'), store: { path: join(root, 'data') } }));
    expect((await daemon.reload('api')).status).toBe('applied');
    expect((await status()).config.lastReload).toMatchObject({ status: 'applied', trigger: 'api' });
  });

  it('senderState: disabled wins over a suspension record (nothing is sent either way)', () => {
    expect(senderState(false, true)).toBe('disabled');
    expect(senderState(true, true)).toBe('suspended');
    expect(senderState(true, false)).toBe('idle');
  });
});
