// Provider presets: hosts, ports, TLS modes and OAuth2 endpoints of the big mail providers.
// Explicit fields in the config always win over a preset.
import type { Provider, Security } from './types.generated.js';

export interface Endpoint {
  host: string;
  port: number;
  security: Security;
}

/** An HTTP mail API of a provider (inbound.protocol / outbound.transport graph or gmail). */
export interface ApiPreset {
  url: string;
  /** delegated (refresh_token) scopes */
  scope: string;
  /** app-only (client_credentials) scope */
  clientCredentials?: string;
}

export type ApiKind = 'graph' | 'gmail';

export interface Preset {
  imap?: Endpoint;
  pop3?: Endpoint;
  smtp?: Endpoint;
  oauth2?: { tokenUrl: string; scope: { imap: string; pop3: string; smtp: string; clientCredentials?: string } };
  /** the provider's mail API: Microsoft Graph or the Gmail API */
  api?: { kind: ApiKind } & ApiPreset;
}

// Microsoft Graph: app-only asks for the application permissions granted (Mail.ReadWrite, Mail.Send)
// through /.default; delegated names them.
const GRAPH: { kind: 'graph' } & ApiPreset = {
  kind: 'graph',
  url: 'https://graph.microsoft.com/v1.0',
  scope: 'https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/Mail.Send offline_access',
  clientCredentials: 'https://graph.microsoft.com/.default',
};

const MS_TOKEN = 'https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token';

export const PRESETS: Record<Exclude<Provider, 'custom'>, Preset> = {
  office365: {
    imap: { host: 'outlook.office365.com', port: 993, security: 'tls' },
    pop3: { host: 'outlook.office365.com', port: 995, security: 'tls' },
    smtp: { host: 'smtp.office365.com', port: 587, security: 'starttls' },
    oauth2: {
      tokenUrl: MS_TOKEN,
      scope: {
        imap: 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access',
        pop3: 'https://outlook.office.com/POP.AccessAsUser.All offline_access',
        smtp: 'https://outlook.office.com/SMTP.Send offline_access',
        clientCredentials: 'https://outlook.office365.com/.default',
      },
    },
    api: GRAPH,
  },
  outlook: {
    imap: { host: 'outlook.office365.com', port: 993, security: 'tls' },
    pop3: { host: 'outlook.office365.com', port: 995, security: 'tls' },
    smtp: { host: 'smtp-mail.outlook.com', port: 587, security: 'starttls' },
    oauth2: {
      tokenUrl: 'https://login.microsoftonline.com/consumers/oauth2/v2.0/token',
      scope: {
        imap: 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access',
        pop3: 'https://outlook.office.com/POP.AccessAsUser.All offline_access',
        smtp: 'https://outlook.office.com/SMTP.Send offline_access',
      },
    },
    api: { ...GRAPH, clientCredentials: undefined },
  },
  gmail: {
    imap: { host: 'imap.gmail.com', port: 993, security: 'tls' },
    pop3: { host: 'pop.gmail.com', port: 995, security: 'tls' },
    smtp: { host: 'smtp.gmail.com', port: 465, security: 'tls' },
    oauth2: {
      tokenUrl: 'https://oauth2.googleapis.com/token',
      scope: { imap: 'https://mail.google.com/', pop3: 'https://mail.google.com/', smtp: 'https://mail.google.com/' },
    },
    // gmail.modify: read, label, trash and send (not permanent delete: afterFetch delete trashes).
    api: { kind: 'gmail', url: 'https://gmail.googleapis.com', scope: 'https://www.googleapis.com/auth/gmail.modify' },
  },
  yahoo: {
    imap: { host: 'imap.mail.yahoo.com', port: 993, security: 'tls' },
    pop3: { host: 'pop.mail.yahoo.com', port: 995, security: 'tls' },
    smtp: { host: 'smtp.mail.yahoo.com', port: 465, security: 'tls' },
    oauth2: {
      tokenUrl: 'https://api.login.yahoo.com/oauth2/get_token',
      scope: { imap: 'mail-w', pop3: 'mail-w', smtp: 'mail-w' },
    },
  },
  zoho: {
    imap: { host: 'imap.zoho.com', port: 993, security: 'tls' },
    pop3: { host: 'pop.zoho.com', port: 995, security: 'tls' },
    smtp: { host: 'smtp.zoho.com', port: 465, security: 'tls' },
    oauth2: {
      tokenUrl: 'https://accounts.zoho.com/oauth/v2/token',
      scope: { imap: 'ZohoMail.messages.ALL', pop3: 'ZohoMail.messages.ALL', smtp: 'ZohoMail.messages.ALL' },
    },
  },
};

export function presetFor(provider: Provider | undefined): Preset | undefined {
  return provider && provider !== 'custom' ? PRESETS[provider] : undefined;
}

/** The API preset of a provider for `kind`, or undefined when it offers none. */
export function apiPresetFor(provider: Provider | null | undefined, kind: ApiKind): ApiPreset | undefined {
  const api = presetFor(provider ?? undefined)?.api;
  return api?.kind === kind ? api : undefined;
}

export const isApiProtocol = (p: string | undefined | null): p is ApiKind => p === 'graph' || p === 'gmail';

/** Default port for a protocol and security mode when neither the config nor a preset gives one. */
export function defaultPort(protocol: 'imap' | 'pop3' | 'smtp', security: Security): number {
  if (protocol === 'imap') return security === 'tls' ? 993 : 143;
  if (protocol === 'pop3') return security === 'tls' ? 995 : 110;
  return security === 'tls' ? 465 : 587;
}
