// OAuth2 for `mailroom test-mailbox`: an access token to test XOAUTH2 with, obtained without taking
// anything from the running daemon. client_credentials consumes no state: a token is simply asked
// for. refresh_token is different: a provider that rotates refresh tokens invalidates the one
// presented, and the daemon's chain of rotated tokens lives in <store.path>/oauth/ (read here, never
// written). So a refresh is only made when it cannot rotate a token the daemon relies on (the
// provider is known not to rotate, or never rotated this grant in the daemon's state); otherwise the
// auth step is skipped with the reason. The decision is pure (refreshTokenPlan).
import type { ResolvedAuth } from '../config/snapshot.js';
import { readSecret } from '../config/secret.js';
import { providerTraits, type ProviderTraits } from './providers.js';
import { TokenEndpointError } from './token-errors.js';
import { requestToken } from './token-request.js';
import type { StatePeek } from '../store/peek.js';
import { grantId, type GrantState } from './token-state.js';

export type RefreshTokenPlan = { use: string; from: 'state' | 'config' } | { skip: string };

/** Which refresh token test-mailbox may present, or why it must not present any (pure). */
export function refreshTokenPlan(provider: ProviderTraits['name'], configured: string, grant: GrantState | null, stateDir: string): RefreshTokenPlan {
  if (provider === 'microsoft') return { skip: 'Microsoft rotates refresh tokens: a refresh here would invalidate the one the daemon uses; see /v1/status for the mailbox' };
  if (grant && grant.rotations > 0) return { skip: `the provider rotated this grant's refresh token ${grant.rotations} time(s) (${stateDir}): a refresh here would invalidate the one the daemon holds; see /v1/status for the mailbox` };
  if (grant) return { use: grant.refreshToken, from: 'state' };
  if (provider === 'google') return { use: configured, from: 'config' };
  return { skip: 'the daemon has not used this grant yet and the provider may rotate refresh tokens: a refresh here could invalidate the configured token the daemon starts with' };
}

export type ProbeToken = { accessToken: string; note: string; secrets: string[] } | { skip: string; secrets: string[] };

async function secret(src: NonNullable<ResolvedAuth['oauth2']>['clientSecret'], what: string): Promise<string | null> {
  if (!src) return null;
  return (await readSecret(src).catch((e: Error) => {
    throw new TokenEndpointError(`auth.oauth2.${what}: ${e.message}`, 'config');
  })).reveal();
}

/** An access token for `label` (a mailbox id, or `default`), or why none is asked for. Throws TokenEndpointError. */
export async function probeAccessToken(label: string, auth: ResolvedAuth, peek: StatePeek): Promise<ProbeToken> {
  const o = auth.oauth2!;
  const clientSecret = await secret(o.clientSecret, 'clientSecret');
  const secrets = clientSecret ? [clientSecret] : [];
  let refreshToken: string | null = null;
  let note = `${o.flow}: a token was fetched, no state used`;
  if (o.flow === 'refresh_token') {
    const configured = await secret(o.refreshToken, 'refreshToken');
    if (!configured) throw new TokenEndpointError('auth.oauth2: the refresh_token flow needs refreshToken or refreshTokenFile', 'config');
    secrets.push(configured);
    const grant = (await peek.oauthState(label)).grants[grantId(o, auth.user, configured)] ?? null;
    const plan = refreshTokenPlan(providerTraits(o.tokenUrl).name, configured, grant, peek.where);
    if ('skip' in plan) return { skip: plan.skip, secrets };
    refreshToken = plan.use;
    secrets.push(plan.use);
    note = `refresh_token: the ${plan.from === 'state' ? "daemon's refresh token (read-only)" : 'configured refresh token'} was presented`;
  }
  const res = await requestToken({ oauth2: o, clientSecret, refreshToken, user: auth.user }, { secrets, timeoutMs: 20_000 });
  secrets.push(res.accessToken, ...(res.refreshToken ? [res.refreshToken] : []));
  if (refreshToken && res.refreshToken && res.refreshToken !== refreshToken) note += '; WARNING: the provider rotated it after all and the new one is not kept: if the daemon is suspended with invalid_grant, put a new refresh token in the config';
  return { accessToken: res.accessToken, note, secrets };
}
