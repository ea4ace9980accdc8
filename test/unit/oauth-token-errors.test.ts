// Token endpoint answers → permanent (suspend) or temporary (back off), with the provider's code and
// without any secret in the message; the request form of both flows.
import { describe, expect, it } from 'vitest';
import { classifyPollError, decideSuspension } from '../../src/inbound/suspension.js';
import { PERMANENT_AADSTS, TokenEndpointError, tokenErrorFromNetwork, tokenErrorFromResponse, tokenErrorHint } from '../../src/oauth/token-errors.js';
import { parseTokenResponse, tokenRequestBody } from '../../src/oauth/token-request.js';
import type { ResolvedOAuth2 } from '../../src/config/snapshot.js';

const ms = (code: number, error = 'invalid_grant') => ({ error, error_description: `AADSTS${code}: Something happened. Trace ID: abc Correlation ID: def Timestamp: 2025-01-01 00:00:00Z`, error_codes: [code] });

describe('tokenErrorFromResponse', () => {
  it.each([
    ['invalid_grant (Google)', 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }, 'invalid_grant'],
    ['invalid_client', 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' }, 'AADSTS7000215'],
    ...[...PERMANENT_AADSTS].map((c): [string, number, object, string] => [c, 400, ms(Number(c.slice(6)), 'interaction_required'), c]),
  ])('%s is permanent with its code', (_name, status, body, code) => {
    const e = tokenErrorFromResponse(status, body);
    expect(e.permanent).toBe(true);
    expect(e.providerCode ?? e.oauthError).toBe(code);
    expect(e.code).toBe('EOAUTH2');
    expect(e.message).not.toMatch(/Trace ID|Correlation/);
  });

  it('finds the AADSTS code in the description when error_codes is missing', () => {
    const e = tokenErrorFromResponse(400, { error: 'invalid_request', error_description: 'AADSTS900144: The request body must contain the following parameter: grant_type.' });
    expect(e.permanent).toBe(true);
    expect(e.providerCode).toBe('AADSTS900144');
  });

  it.each([
    [503, { error: 'temporarily_unavailable' }, 'busy'],
    [429, {}, 'busy'],
    [500, { error: 'server_error' }, 'server'],
    [502, null, 'server'],
    [400, { error: 'invalid_scope', error_description: 'AADSTS70011: bad scope.' }, 'auth'],
    [400, { error: 'unauthorized_client' }, 'auth'],
  ])('HTTP %i %j is temporary (%s)', (status, body, kind) => {
    const e = tokenErrorFromResponse(status, body);
    expect(e.permanent).toBe(false);
    expect(e.kind).toBe(kind);
  });

  it('an app deleted (AADSTS700016) or disabled (AADSTS7000112) in Entra is permanent, with a precise hint (issue 20 item 10)', () => {
    const client = { clientId: '0d1e-app', tenantId: 'contoso', tokenUrl: 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token' };
    const deleted = tokenErrorFromResponse(400, ms(700016, 'unauthorized_client'), [], client);
    expect(deleted).toMatchObject({ kind: 'permanent', oauthError: 'unauthorized_client', providerCode: 'AADSTS700016' });
    expect(deleted.hint).toMatch(/^the app registration 0d1e-app was not found in tenant contoso .*re-create it.*update clientId/);
    const disabled = tokenErrorFromResponse(400, ms(7000112, 'unauthorized_client'), [], client);
    expect(disabled).toMatchObject({ kind: 'permanent', providerCode: 'AADSTS7000112' });
    expect(disabled.hint).toMatch(/^the app registration 0d1e-app is disabled in tenant contoso: enable it again .*update clientId/);
    // the tenant from the token URL when tenantId is not set
    expect(tokenErrorHint('unauthorized_client', ['AADSTS700016'], { clientId: 'x', tokenUrl: 'https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token' })).toMatch(/tenant fabrikam\.onmicrosoft\.com/);
    expect(tokenErrorHint('invalid_request', ['AADSTS90002'], client)).toMatch(/tenant contoso was not found.*tenantId/);
    expect(tokenErrorHint('invalid_client', ['AADSTS7000222'], client)).toMatch(/client secret of the app registration 0d1e-app has expired/);
    // unauthorized_client without such a code stays temporary, with no hint
    expect(tokenErrorFromResponse(400, { error: 'unauthorized_client' }, [], client)).toMatchObject({ kind: 'auth', hint: null });
  });

  it.each(['deleted_client', 'disabled_client'])("Google's %s is permanent with a hint", (error) => {
    const e = tokenErrorFromResponse(401, { error, error_description: 'The OAuth client was deleted.' }, [], { clientId: '1234-abc.apps.googleusercontent.com' });
    expect(e.kind).toBe('permanent');
    expect(e.hint).toMatch(/the OAuth client 1234-abc\.apps\.googleusercontent\.com (was deleted|is disabled)/);
  });

  it('scrubs secrets a server echoes back', () => {
    const e = tokenErrorFromResponse(400, { error: 'invalid_grant', error_description: 'refresh token rt-PLANTED-123456 is unknown.' }, ['rt-PLANTED-123456']);
    expect(e.message).not.toContain('rt-PLANTED-123456');
    expect(e.message).toContain('<redacted>');
  });

  it('network failures are temporary and name the host only', () => {
    const e = tokenErrorFromNetwork(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:9' } }), 'https://login.example/t?client_secret=nope');
    expect(e.kind).toBe('network');
    expect(e.message).toContain('login.example');
    expect(e.message).not.toContain('nope');
    expect(tokenErrorFromNetwork(Object.assign(new Error('x'), { name: 'TimeoutError' }), 'https://a.example/').kind).toBe('timeout');
  });
});

describe('suspension decision', () => {
  const at = '2025-01-01T00:00:00.000Z';
  it('a permanent token error suspends at once, with the provider code', () => {
    const err = tokenErrorFromResponse(400, ms(50173));
    const s = decideSuspension(err, classifyPollError(err), 0, 5, at);
    expect(s).toMatchObject({ source: 'token-endpoint', code: 'AADSTS50173', error: 'invalid_grant' });
  });
  it('a temporary token error never suspends', () => {
    const err = tokenErrorFromResponse(503, {});
    expect(decideSuspension(err, classifyPollError(err), 99, 5, at)).toBeNull();
    expect(classifyPollError(err).class).toBe('busy');
  });
  it('server auth refusals suspend after the threshold', () => {
    const err = Object.assign(new Error('Command failed'), { authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED', responseText: 'Authentication failed.' });
    const c = classifyPollError(err);
    expect(c.class).toBe('auth');
    expect(decideSuspension(err, c, 4, 5, at)).toBeNull();
    expect(decideSuspension(err, c, 5, 5, at)).toMatchObject({ source: 'server', code: 'AUTHENTICATIONFAILED' });
  });
  it('POP3 [AUTH] refusals carry that code; other errors never suspend', () => {
    const err = new Error('[AUTH] Authentication failed.');
    expect(decideSuspension(err, classifyPollError(err), 5, 5, at)?.code).toBe('AUTH');
    const tcp = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(decideSuspension(tcp, classifyPollError(tcp), 50, 5, at)).toBeNull();
  });
});

describe('token request form', () => {
  const base: ResolvedOAuth2 = { flow: 'client_credentials', tenantId: 't', clientId: 'app', clientSecret: null, refreshToken: null, tokenUrl: 'https://x.example/token', scope: 'https://outlook.office365.com/.default', clientSecretExpires: null };
  it('client_credentials sends id, secret, scope', () => {
    const f = tokenRequestBody({ oauth2: base, clientSecret: 's', refreshToken: null });
    expect(Object.fromEntries(f)).toEqual({ grant_type: 'client_credentials', client_id: 'app', client_secret: 's', scope: base.scope });
  });
  it('refresh_token sends the token, the secret only when there is one', () => {
    const o = { ...base, flow: 'refresh_token' as const, scope: null };
    expect(Object.fromEntries(tokenRequestBody({ oauth2: o, clientSecret: null, refreshToken: 'r' }))).toEqual({ grant_type: 'refresh_token', client_id: 'app', refresh_token: 'r' });
    expect(() => tokenRequestBody({ oauth2: o, clientSecret: 's', refreshToken: null })).toThrow(TokenEndpointError);
    expect(() => tokenRequestBody({ oauth2: base, clientSecret: null, refreshToken: null })).toThrow(/clientSecret/);
  });
  it('parses answers and refuses non-Bearer ones', () => {
    expect(parseTokenResponse({ access_token: 'a', expires_in: '3599', refresh_token: 'n', token_type: 'Bearer' })).toEqual({ accessToken: 'a', expiresIn: 3599, refreshToken: 'n', refreshTokenExpiresIn: null });
    expect(() => parseTokenResponse({ access_token: 'a', token_type: 'mac' })).toThrow(/Bearer/);
    expect(() => parseTokenResponse({})).toThrow(/access_token/);
  });
});
