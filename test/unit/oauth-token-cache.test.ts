// The token cache against a real OAuth2 server on loopback (test/peers/oauth.ts): both flows, one
// refresh for many callers, refresh ahead of expiry, rotated refresh tokens persisted (0600 under
// <store>/oauth/) and used by a new manager (a restart), permanent refusals remembered per grant,
// the early warning from refresh_token_expires_in, and no secret in any log line.
import { oauthStateIn } from '../support/suspensions.js';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { ResolvedAuth, Snapshot } from '../../src/config/snapshot.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { OAuthManager } from '../../src/oauth/manager.js';
import { TokenEndpointError } from '../../src/oauth/token-errors.js';
import { startOAuthServer, type OAuthPeer } from '../peers/oauth.js';

const SECRET = 'client-secret-PLANTED-5f1e';
let peer: OAuthPeer;
let dir: string;
let logs: string[];

function manager(extra: Partial<ConstructorParameters<typeof OAuthManager>[0]> = {}) {
  return new OAuthManager({ state: oauthStateIn(dir), log: createLogger('debug', { write: (l: string) => void logs.push(l) }), ...extra });
}

function auth(user: string, o: Partial<NonNullable<ResolvedAuth['oauth2']>> & { rt?: string }): ResolvedAuth {
  const { rt, ...rest } = o;
  return {
    user,
    password: null,
    oauth2: { flow: rt ? 'refresh_token' : 'client_credentials', tenantId: null, clientId: 'app', clientSecret: { kind: 'value', secret: new Secret(SECRET) }, refreshToken: rt ? { kind: 'value', secret: new Secret(rt) } : null, tokenUrl: peer.tokenUrl, scope: 'mail', clientSecretExpires: null, ...rest },
  };
}

function noSecretsIn(text: string, values: string[]) {
  for (const v of values) expect(text).not.toContain(v);
}

beforeAll(async () => {
  peer = await startOAuthServer();
  peer.addClient('app', SECRET, { user: 'robot' });
});
afterAll(async () => {
  await peer?.close();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-oauth-'));
  logs = [];
  peer.requests.length = 0;
  peer.ttl = 3600;
  peer.rotate = false;
  peer.refreshTokenExpiresIn = null;
  return () => rm(dir, { recursive: true, force: true });
});

describe('token cache', () => {
  it('client_credentials: one request for many concurrent callers, then cached', async () => {
    const m = manager();
    const a = auth('robot', {});
    const tokens = await Promise.all(Array.from({ length: 20 }, () => m.accessToken('mb', a)));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    expect(peer.requests).toHaveLength(1);
    expect(peer.requests[0]).toMatchObject({ grant_type: 'client_credentials', client_id: 'app', scope: 'mail' });
    await m.accessToken('mb', a);
    expect(peer.requests).toHaveLength(1);
    expect(peer.isActive(tokens[0]!.token, 'robot')).toBe(true);
  });

  it('refreshes ahead of expiry, before the old token runs out', async () => {
    peer.ttl = 6; // exp has whole seconds: refreshAt (4.8 s) is before the earliest exp (5 s)
    const m = manager();
    const a = auth('robot', {});
    const first = await m.accessToken('mb', a);
    expect(first.refreshAt).toBeLessThan(first.expiresAt);
    await new Promise((r) => setTimeout(r, first.refreshAt - Date.now() + 20));
    expect(peer.isActive(first.token)).toBe(true); // still valid: refreshed ahead
    const second = await m.accessToken('mb', a);
    expect(second.token).not.toBe(first.token);
    expect(peer.requests).toHaveLength(2);
  });

  it('invalidate() drops the cached token (the server refused it); renew asks again', async () => {
    const m = manager();
    const a = auth('robot', {});
    const t1 = await m.accessToken('mb', a);
    m.invalidate('mb');
    const t2 = await m.accessToken('mb', a);
    const t3 = await m.accessToken('mb', a, { renew: true });
    expect(new Set([t1.token, t2.token, t3.token]).size).toBe(3);
  });

  it('a rotated refresh token is persisted (0600 in a 0700 dir) and used after a restart, never the old one', async () => {
    peer.rotate = true;
    const initial = peer.grant('app', 'alice');
    const a = auth('alice', { rt: initial });
    const m1 = manager();
    await m1.accessToken('mb', a);
    await m1.stop();
    const files = await readdir(join(dir, 'oauth'));
    expect(files).toEqual(['mb.json']);
    expect((await stat(join(dir, 'oauth'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'oauth', 'mb.json'))).mode & 0o777).toBe(0o600);
    const [rotated] = peer.refreshTokens('alice');
    expect(rotated).toBeDefined();
    expect(await readFile(join(dir, 'oauth', 'mb.json'), 'utf8')).toContain(rotated!);
    // a new process: the initial token is dead (rotation), the persisted one works
    const m2 = manager();
    await m2.accessToken('mb', a);
    expect(peer.requests.map((r) => r.refresh_token)).toEqual([initial, rotated]);
    expect(peer.requests.every((r) => r.status === 200)).toBe(true);
    noSecretsIn(logs.join('\n'), [initial, rotated!, SECRET]);
  });

  it('a permanent refusal is remembered for that grant; a new token in config is tried at once; forget() retries', async () => {
    const rt = peer.grant('app', 'bob');
    const m = manager();
    await m.accessToken('mb', auth('bob', { rt }));
    peer.revokeUser('bob');
    m.invalidate('mb');
    const err = await m.accessToken('mb', auth('bob', { rt })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenEndpointError);
    expect(err).toMatchObject({ permanent: true, oauthError: 'invalid_grant', providerCode: 'AADSTS50173' });
    const n = peer.requests.length;
    await expect(m.accessToken('mb', auth('bob', { rt }))).rejects.toBe(err);
    expect(peer.requests.length).toBe(n);
    m.forget('mb');
    await expect(m.accessToken('mb', auth('bob', { rt }))).rejects.toThrow(/invalid_grant/);
    expect(peer.requests.length).toBe(n + 1);
    const fresh = peer.grant('app', 'bob');
    await expect(m.accessToken('mb', auth('bob', { rt: fresh }))).resolves.toMatchObject({ token: expect.any(String) });
    noSecretsIn(logs.join('\n') + String(err) + JSON.stringify(err), [rt, fresh, SECRET]);
  });

  it('a wrong client secret is invalid_client (permanent), without the secret in the error', async () => {
    const m = manager();
    const a = auth('robot', { clientSecret: { kind: 'value', secret: new Secret('wrong-secret-PLANTED-77') } });
    const err = (await m.accessToken('mb', a).catch((e: unknown) => e)) as TokenEndpointError;
    expect(err.permanent).toBe(true);
    expect(err.oauthError).toBe('invalid_client');
    noSecretsIn(err.message + logs.join('\n'), ['wrong-secret-PLANTED-77']);
  });

  it('an unreachable endpoint is temporary and not remembered', async () => {
    const m = manager();
    const a = auth('robot', { tokenUrl: 'http://127.0.0.1:9/token' });
    const err = (await m.accessToken('mb', a).catch((e: unknown) => e)) as TokenEndpointError;
    expect(err.kind).toBe('network');
    await expect(m.accessToken('mb', a)).rejects.not.toBe(err);
  });

  it('a replaced refresh token: the persisted token of the old grant is removed by the sweep, the new one kept', async () => {
    peer.rotate = true;
    const m = manager();
    const a1 = auth('dora', { rt: peer.grant('app', 'dora') });
    const a2 = auth('dora', { rt: peer.grant('app', 'dora') });
    await m.accessToken('mb', a1);
    await m.accessToken('mb', a2);
    const file = join(dir, 'oauth', 'mb.json');
    expect(Object.keys((JSON.parse(await readFile(file, 'utf8')) as { grants: object }).grants)).toHaveLength(2);
    const snap = { mailboxes: { mb: { id: 'mb', enabled: true, inbound: {}, auth: a2, outbound: null, owners: [] } }, defaultOutbound: null } as unknown as Snapshot;
    await m.sweep(snap);
    const grants = (JSON.parse(await readFile(file, 'utf8')) as { grants: Record<string, { refreshToken: string }> }).grants;
    expect(Object.values(grants).map((g) => g.refreshToken)).toEqual(peer.refreshTokens('dora').slice(-1));
    await m.stop();
  });

  it('health: refresh_token_expires_in and clientSecretExpires give the warning and the metric', async () => {
    peer.refreshTokenExpiresIn = 5 * 86400;
    const metrics = createMetrics();
    const m = manager({ metrics });
    const rt = peer.grant('app', 'carol');
    const a = auth('carol', { rt, clientSecretExpires: '2999-01-01' });
    const snap = { mailboxes: { mb: { id: 'mb', enabled: true, inbound: {}, auth: a, outbound: null, owners: [] } }, defaultOutbound: null } as unknown as Snapshot;
    m.start(() => snap, 60_000);
    await m.sweep(snap);
    // the refresh token was never used: only the far secret date is known
    expect(m.healthOf('mb')).toMatchObject({ state: 'ok', credential: 'clientSecret' });
    await m.accessToken('mb', a);
    await m.sweep(snap);
    const h = m.healthOf('mb')!;
    expect(h).toMatchObject({ state: 'warning', credential: 'refreshToken' });
    expect(h.expiresInSeconds).toBeGreaterThan(4 * 86400);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/mailroom_oauth_credential_expiry_seconds\{mailbox="mb"\} 4\d{5}/);
    await m.stop();
  });
});
