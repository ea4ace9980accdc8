// test-mailbox's OAuth2 refresh_token rule (pure): never present a refresh token whose refresh could
// rotate away the one the running daemon relies on; say why instead.
import { describe, expect, it } from 'vitest';
import { refreshTokenPlan } from '../../src/oauth/probe-token.js';
import type { GrantState } from '../../src/oauth/token-state.js';

const grant = (rotations: number): GrantState => ({ refreshToken: 'rt-from-state', issuedAt: '2026-01-01T00:00:00Z', expiresAt: null, rotations, updatedAt: '2026-01-01T00:00:00Z' });

describe('refreshTokenPlan', () => {
  it.each([
    ['Microsoft rotates: skip, even with state', 'microsoft', grant(0), /Microsoft rotates refresh tokens/],
    ['a grant the daemon saw rotate: skip', 'other', grant(2), /rotated this grant's refresh token 2 time\(s\) \(\/data\/oauth\)/],
    ['a grant the daemon never saw rotate: the daemon\'s token, read-only', 'other', grant(0), { use: 'rt-from-state', from: 'state' }],
    ['Google, no state: the configured token (Google does not rotate)', 'google', null, { use: 'rt-configured', from: 'config' }],
    ['unknown provider, no state: skip (it may rotate)', 'other', null, /has not used this grant yet/],
  ] as const)('%s', (_name, provider, g, expected) => {
    const plan = refreshTokenPlan(provider, 'rt-configured', g, '/data/oauth');
    if (expected instanceof RegExp) expect('skip' in plan && plan.skip).toMatch(expected);
    else expect(plan).toEqual(expected);
  });
});
