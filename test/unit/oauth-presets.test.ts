// Provider presets fill the token endpoint and scopes per protocol and flow; explicit tokenUrl and
// scope win (other providers).
import { describe, expect, it } from 'vitest';
import { resolveAuth } from '../../src/config/resolve.js';

describe('OAuth2 presets', () => {
  it('office365: tenant in the token URL, .default for app-only, per-protocol delegated scopes', () => {
    const app = resolveAuth({ user: 'u', oauth2: { flow: 'client_credentials', clientId: 'c', tenantId: 'contoso' } }, 'office365', 'imap')!.oauth2!;
    expect(app.tokenUrl).toBe('https://login.microsoftonline.com/contoso/oauth2/v2.0/token');
    expect(app.scope).toBe('https://outlook.office365.com/.default');
    const smtp = resolveAuth({ user: 'u', oauth2: { flow: 'refresh_token', clientId: 'c', tenantId: 'contoso' } }, 'office365', 'smtp')!.oauth2!;
    expect(smtp.scope).toBe('https://outlook.office.com/SMTP.Send offline_access');
    const pop = resolveAuth({ user: 'u', oauth2: { flow: 'refresh_token', clientId: 'c' } }, 'office365', 'pop3')!.oauth2!;
    expect(pop.tokenUrl).toBe('https://login.microsoftonline.com/common/oauth2/v2.0/token');
    expect(pop.scope).toContain('POP.AccessAsUser.All');
  });
  it('gmail, and a custom provider with its own endpoint and scope', () => {
    expect(resolveAuth({ user: 'u', oauth2: { flow: 'refresh_token', clientId: 'c' } }, 'gmail', 'imap')!.oauth2).toMatchObject({ tokenUrl: 'https://oauth2.googleapis.com/token', scope: 'https://mail.google.com/' });
    expect(resolveAuth({ user: 'u', oauth2: { flow: 'refresh_token', clientId: 'c', tokenUrl: 'https://id.example/token', scope: 'mail' } }, 'gmail', 'imap')!.oauth2).toMatchObject({ tokenUrl: 'https://id.example/token', scope: 'mail' });
    expect(resolveAuth({ user: 'u', oauth2: { flow: 'client_credentials', clientId: 'c' } }, 'custom', 'imap')!.oauth2).toMatchObject({ tokenUrl: null, scope: null });
  });
});
