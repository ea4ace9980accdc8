// Early warning (pure): client secret date and refresh-token age → ok / warning / expired, the
// earliest credential first; provider lifetimes.
import { describe, expect, it } from 'vitest';
import { credentialHealth, worst } from '../../src/oauth/expiry.js';
import { providerTraits } from '../../src/oauth/providers.js';
import { refreshMargin } from '../../src/oauth/token-cache.js';

const DAY = 86_400_000;
const now = Date.parse('2025-06-01T12:00:00Z');

describe('credentialHealth', () => {
  it('nothing known → null', () => {
    expect(credentialHealth({ clientSecretExpires: null, refreshToken: null }, now)).toBeNull();
    expect(credentialHealth({ clientSecretExpires: null, refreshToken: { issuedAt: new Date(now).toISOString(), expiresAt: null, maxAgeMs: null } }, now)).toBeNull();
  });
  it('client secret: ok far ahead, warning within 14 days, expired after', () => {
    expect(credentialHealth({ clientSecretExpires: '2025-09-01', refreshToken: null }, now)?.state).toBe('ok');
    const w = credentialHealth({ clientSecretExpires: '2025-06-06', refreshToken: null }, now)!;
    expect(w).toMatchObject({ state: 'warning', credential: 'clientSecret', expiresAt: '2025-06-06T00:00:00.000Z' });
    expect(w.expiresInSeconds).toBe((Date.parse('2025-06-06T00:00:00Z') - now) / 1000);
    expect(w.message).toMatch(/expires in 4 day/);
    const e = credentialHealth({ clientSecretExpires: '2025-05-01', refreshToken: null }, now)!;
    expect(e.state).toBe('expired');
    expect(e.expiresInSeconds).toBeLessThan(0);
  });
  it('refresh token: provider max age from issue, or the stated expiry, whichever is first', () => {
    const issuedAt = new Date(now - 80 * DAY).toISOString();
    const h = credentialHealth({ clientSecretExpires: null, refreshToken: { issuedAt, expiresAt: null, maxAgeMs: 90 * DAY } }, now)!;
    expect(h).toMatchObject({ state: 'warning', credential: 'refreshToken' });
    expect(Math.round(h.expiresInSeconds / 86400)).toBe(10);
    const stated = credentialHealth({ clientSecretExpires: null, refreshToken: { issuedAt, expiresAt: new Date(now + 2 * DAY).toISOString(), maxAgeMs: 90 * DAY } }, now)!;
    expect(Math.round(stated.expiresInSeconds / 86400)).toBe(2);
  });
  it('the earliest credential wins', () => {
    const h = credentialHealth({ clientSecretExpires: '2025-06-20', refreshToken: { issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 3 * DAY).toISOString(), maxAgeMs: null } }, now)!;
    expect(h.credential).toBe('refreshToken');
    expect(worst(h, null)).toBe(h);
    expect(worst(credentialHealth({ clientSecretExpires: '2025-06-02', refreshToken: null }, now), h)?.credential).toBe('clientSecret');
  });
});

describe('providers and refresh margin', () => {
  it('knows Microsoft and Google lifetimes', () => {
    expect(providerTraits('https://login.microsoftonline.com/contoso/oauth2/v2.0/token')).toEqual({ name: 'microsoft', refreshTokenMaxAgeMs: 90 * DAY });
    expect(providerTraits('https://oauth2.googleapis.com/token').refreshTokenMaxAgeMs).toBeNull();
    expect(providerTraits('http://127.0.0.1:1234/token').name).toBe('other');
    expect(providerTraits(null).name).toBe('other');
  });
  it('refreshes a fifth of the lifetime ahead, at most 5 minutes', () => {
    expect(refreshMargin(3_600_000)).toBe(300_000);
    expect(refreshMargin(10_000)).toBe(2_000);
  });
});
