// `mailroom test-mailbox` with OAuth2 and the probe's hints, against real local servers: a real
// OAuth2 server (test/peers/oauth.ts), smtp-server checking XOAUTH2 tokens, a plaintext smtp-server,
// and raw loopback sockets. client_credentials fetches a token and logs in with XOAUTH2; a
// refresh_token grant is refreshed only when that cannot rotate a token the daemon relies on (the
// daemon's state is read, never written), else `skip auth` says why; `default` tests the global
// defaults.outbound; a silent server, TLS against a plaintext port and a missing secret with
// --send-to each get a line a person can act on. Secrets never appear in the output.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { grantId } from '../../src/oauth/token-state.js';
import { OAuthFileStore } from '../../src/store/embedded/oauth-files.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';
import { startOAuthSmtpServer, type OAuthSmtpPeer } from '../peers/oauth-smtp.js';
import { startSmtpServer, type SmtpPeer } from '../peers/smtp.js';
import { runTestMailbox, stepRow } from '../support/test-mailbox.js';

const SECRET = 'client-secret-PLANTED-9f8e';
let oauth: OAuthPeer;
let smtpOut: OAuthSmtpPeer;
let plain: SmtpPeer;
let silent: Server;
let silentPort: number;
let dir: string;
let dataDir: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  oauth = await startOAuthServer({ rotate: false });
  [smtpOut, plain] = await Promise.all([startOAuthSmtpServer(oauth), startSmtpServer()]);
  silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
  dir = await mkdtemp(join(tmpdir(), 'mailroom-testmb-oauth-'));
  dataDir = join(dir, 'data');
  await mkdir(join(dir, 'secrets'));
  const secret = async (name: string, v: string) => (await writeFile(join(dir, 'secrets', name), `${v}\n`), join(dir, 'secrets', name));
  oauth.addClient('app-cc', SECRET, { user: 'cc' });
  oauth.addClient('app-rt', SECRET, { rotate: true });
  oauth.addClient('app-keep', SECRET, { rotate: false });
  tokens.fresh = oauth.grant('app-rt', 'fresh');
  tokens.used = oauth.grant('app-keep', 'used');
  const cs = await secret('cs', SECRET);
  const out = { host: '127.0.0.1', port: smtpOut.port, security: 'none' };
  const oa = (clientId: string, extra: Record<string, unknown>) => ({ clientId, tokenUrl: oauth.tokenUrl, clientSecretFile: cs, ...extra });
  await writeFile(
    join(dir, 'mailroom.yaml'),
    stringify({
      version: 1,
      store: { path: dataDir },
      defaults: { outbound: { host: '127.0.0.1', port: plain.port, security: 'none', from: { address: 'noreply@platform.example' } } },
      mailboxes: {
        cc: { auth: { user: 'cc', oauth2: oa('app-cc', { flow: 'client_credentials', scope: 'x' }) }, outbound: { ...out, from: { address: 'cc@acme.example' } } },
        // a grant the daemon never used, at a provider that may rotate: must not be refreshed here
        fresh: { auth: { user: 'fresh', oauth2: oa('app-rt', { flow: 'refresh_token', refreshTokenFile: await secret('fresh-rt', tokens.fresh!) }) }, outbound: { ...out, from: { address: 'fresh@acme.example' } } },
        // a grant the daemon used and never saw rotate (state written below): its token, read-only
        used: { auth: { user: 'used', oauth2: oa('app-keep', { flow: 'refresh_token', refreshTokenFile: await secret('used-rt', tokens.used!) }) }, outbound: { ...out, from: { address: 'used@acme.example' } } },
        nosecret: { auth: { user: 'x', passwordFile: join(dir, 'secrets', 'missing') }, outbound: { host: '127.0.0.1', port: plain.port, security: 'none', from: { address: 'x@acme.example' } } },
        tlsOnPlain: { outbound: { host: '127.0.0.1', port: plain.port, security: 'tls', from: { address: 'x@acme.example' } } },
        silent: { outbound: { host: '127.0.0.1', port: silentPort, security: 'starttls', timeout: '10s', from: { address: 'x@acme.example' } } },
      },
    }),
  );
  // What the daemon leaves in <store>/oauth/ after using the `used` grant once (no rotation).
  const snap = (await loadConfig(join(dir, 'mailroom.yaml'), { skipEnv: true })).snapshot!;
  const o = snap.mailboxes.used!.auth!.oauth2!;
  const at = new Date().toISOString();
  await new OAuthFileStore(dataDir).update('used', (s) => (s.grants[grantId(o, 'used', tokens.used!)] = { refreshToken: tokens.used!, issuedAt: at, expiresAt: null, rotations: 0, updatedAt: at }));
}, 30_000);

afterAll(async () => {
  await Promise.all([smtpOut?.close(), plain?.close(), oauth?.close(), new Promise<void>((r) => (silent ? silent.close(() => r()) : r()))]);
  await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => runTestMailbox(join(dir, 'mailroom.yaml'), args, () => [SECRET, ...Object.values(tokens), ...oauth.issued.keys()]);
const row = stepRow;

describe('mailroom test-mailbox with OAuth2', () => {
  it('client_credentials: fetches a token and authenticates with XOAUTH2; --send-to sends', async () => {
    const { code, out } = await run('cc', '--send-to', 'ops@acme.example');
    expect(code).toBe(0);
    expect(out).not.toContain('not available in this build');
    expect(row(out, 'auth')).toMatch(/ok\s+auth\s+authenticated as cc \(XOAUTH2\)/);
    expect(row(out, 'send')).toMatch(/ok\s+send\s+to ops@acme\.example: 250/);
    expect(smtpOut.logins.at(-1)).toEqual({ method: 'XOAUTH2', user: 'cc', ok: true });
    expect(oauth.requests.filter((r) => r.client_id === 'app-cc').map((r) => r.grant_type)).toEqual(['client_credentials']);
  });

  it('refresh_token the daemon never used, provider may rotate: skip auth with the reason, not FAIL; nothing refreshed', async () => {
    const { code, out } = await run('fresh', '--send-to', 'ops@acme.example');
    expect(code).toBe(0);
    expect(row(out, 'auth')).toMatch(/skip\s+auth\s+\(OAuth2 refresh_token: the daemon has not used this grant yet and the provider may rotate/);
    expect(row(out, 'send')).toMatch(/skip\s+send/);
    expect(oauth.requests.some((r) => r.refresh_token === tokens.fresh)).toBe(false);
    expect(oauth.refreshTokens('fresh')).toEqual([tokens.fresh]);
  });

  it("refresh_token with the daemon's state: its token is presented, the state is not written", async () => {
    const before = await readdir(join(dataDir, 'oauth'));
    const { code, out } = await run('used');
    expect(code).toBe(0);
    expect(row(out, 'auth')).toMatch(/ok\s+auth\s+authenticated as used \(XOAUTH2\)/);
    expect(out).toMatch(/daemon's refresh token \(read-only\) was presented$/m);
    expect(oauth.requests.filter((r) => r.refresh_token === tokens.used)).toHaveLength(1);
    expect(await readdir(join(dataDir, 'oauth'))).toEqual(before);
  });

  it('`default` tests the global defaults.outbound', async () => {
    plain.clear();
    const { code, out } = await run('default', '--send-to', 'ops@acme.example');
    expect(code).toBe(0);
    expect(out).toMatch(/^global default outbound/);
    expect(row(out, 'send')).toMatch(/ok\s+send/);
    expect(out).toMatch(/result: ok — the global default outbound works from here/);
    const [m] = await plain.waitFor(1);
    expect(m!.envelope.from).toBe('noreply@platform.example');
  });
});

describe('test-mailbox probe hints', () => {
  it('a missing secret with --send-to: FAIL auth, then a skip send line', async () => {
    const { code, out } = await run('nosecret', '--send-to', 'ops@acme.example');
    expect(code).toBe(1);
    expect(row(out, 'auth')).toMatch(/FAIL\s+auth\s+cannot read secret file/);
    expect(row(out, 'send')).toMatch(/skip\s+send\s+not tried/);
  });

  it('security: tls against a plaintext port: says the port speaks plain text, no OpenSSL words', async () => {
    const { code, out } = await run('tlsOnPlain');
    expect(code).toBe(1);
    expect(row(out, 'tls')).toMatch(/FAIL\s+tls\s+TLS failed: the server answered the TLS handshake in plain text/);
    expect(out).toMatch(/→ the port speaks plain text: use security: starttls or none/);
    expect(out).not.toMatch(/wrong version number|ssl3_get_record|SSL routines/i);
  });

  it('a server that accepts TCP but never greets: says no greeting came (wrong port, firewall or proxy)', async () => {
    const { code, out } = await run('silent');
    expect(code).toBe(1);
    expect(row(out, 'tcp')).toMatch(/^\s+ok/);
    expect(row(out, 'tls')).toMatch(/FAIL\s+tls\s+STARTTLS failed: no reply within 10 s/);
    expect(out).toMatch(/→ the server accepted the connection but sent no greeting: a wrong port .*firewall or proxy/);
    expect(out).not.toMatch(/check security against the port/);
  }, 30_000);
});
