// The resolved, immutable configuration every part of the daemon reads: one Snapshot per applied config.
import type { SecretSource } from './secret.js';
import type { Problem } from './problems.js';
import type { NodeLocation } from './yaml-file.js';
import type {
  AfterFetch, MailroomConfig, Notify, Provider, Route, Security, TicketDefaults, Acknowledge,
} from './types.generated.js';

export interface ResolvedOAuth2 {
  flow: 'client_credentials' | 'refresh_token' | 'service_account';
  /** service_account: the JSON key file is `clientSecret` (a file source), read when used */
  tenantId: string | null;
  clientId: string;
  clientSecret: SecretSource | null;
  refreshToken: SecretSource | null;
  tokenUrl: string | null;
  scope: string | null;
  clientSecretExpires: string | null;
}

export interface ResolvedAuth {
  user: string;
  password: SecretSource | null;
  oauth2: ResolvedOAuth2 | null;
}

export interface ResolvedInbound {
  protocol: 'imap' | 'pop3' | 'graph' | 'gmail';
  /** graph/gmail: the API base URL (mailbox apiUrl, else the provider preset's); null for IMAP/POP3 */
  apiUrl: string | null;
  /** IMAP/POP3 only ('' for an API mailbox) */
  host: string;
  port: number;
  security: Security;
  verifyCertificate: boolean;
  caFile: string | null;
  folder: string;
  since: string | null;
  afterFetch: AfterFetch;
  moveTo: string | null;
  hold: boolean;
  pollIntervalMs: number;
  idle: boolean;
  maxMessageSize: number;
  batchSize: number;
  fallbackCompany: string | null;
  senderRateLimit: number;
}

export interface ResolvedOutbound {
  /** Mailbox whose settings these are; null for the global default. */
  mailbox: string | null;
  /** smtp, or the mailbox's HTTP API (graph sendMail, gmail messages.send) */
  transport: 'smtp' | 'graph' | 'gmail';
  /** graph/gmail: the API base URL; null for smtp */
  apiUrl: string | null;
  /** SMTP only ('' for an API transport) */
  host: string;
  port: number;
  security: Security;
  verifyCertificate: boolean;
  caFile: string | null;
  auth: ResolvedAuth | null;
  from: { name: string; address: string };
  sendAs: 'mailbox' | 'user';
  timeoutMs: number;
  batchWindowMs: number;
  maxPerMinute: number | null;
  maxConnections: number;
}

export interface MailboxOwner {
  company: string;
  contract: string;
}

export interface ResolvedMailbox {
  id: string;
  description: string;
  enabled: boolean;
  provider: Provider | null;
  address: string | null;
  auth: ResolvedAuth | null;
  inbound: ResolvedInbound | null;
  outbound: ResolvedOutbound | null;
  /** Contracts that read this mailbox (several companies = a shared mailbox routed by sender domain). */
  owners: MailboxOwner[];
}

export interface ResolvedContract {
  id: string;
  company: string;
  name: string;
  inbound: string[];
  outbound: string | null;
  ticket: TicketDefaults;
  acknowledge: Acknowledge | null;
}

export interface ResolvedCompany {
  id: string;
  name: string;
  /** Inheritance chain, root first, this company last. */
  chain: string[];
  ticketPrefix: string;
  domains: string[];
  notify: Notify[];
  acknowledge: Acknowledge | null;
  contracts: Record<string, ResolvedContract>;
}

export interface ResolvedWebhook {
  id: string;
  url: string;
  secret: SecretSource | null;
  timeoutMs: number;
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  concurrency: number;
  inlineAttachmentsUpTo: number;
}

export interface ResolvedApiToken {
  name: string;
  token: SecretSource;
  companies: string[] | '*';
}

/**
 * `store:` resolved. `path` stays on the postgres variant for the parts not yet behind the store port
 * (they keep local files under it until they move); it is the default `./data` there.
 */
export type ResolvedStore =
  | { driver: 'lowdb'; path: string }
  | {
      driver: 'postgres';
      path: string;
      /** the connection URL (with its password): a value from `${ENV}` or a file read at start */
      url: SecretSource;
      schema: string;
      pool: { max: number };
      /** store.leaseTtl in ms: a mailbox lease's life unrenewed (default 15 s, at least 3 s) */
      leaseTtlMs: number;
      ssl: { caFile: string | null; rejectUnauthorized: boolean } | null;
    };

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export interface InboundPacing {
  /** logins per second to one server host (token bucket rate) */
  loginsPerSecond: number;
  /** logins to one host that may start at once */
  loginBurst: number;
  /** the longest window a batch of starting mailboxes is spread over */
  startSpreadMs: number;
}

export interface Snapshot {
  /** sha256 over the config files (names and bytes); identical content = identical hash. */
  hash: string;
  files: string[];
  /** The merged config as validated, secrets sealed (x-secret fields are Secret objects). */
  config: MailroomConfig;
  locations: Map<string, NodeLocation>;
  warnings: Problem[];
  server: {
    listen: { host: string; port: number };
    /** Limits of the HTTP listeners (node:http's defaults hold idle and slow clients for minutes). */
    limits: HttpLimits;
    /** A second listener serving only /metrics; null: /metrics is on `listen`. */
    metricsListen: { host: string; port: number } | null;
    metricsAuth: 'none' | 'token';
    publicUrl: string | null;
    apiTokens: ResolvedApiToken[];
  };
  store: ResolvedStore;
  log: { level: string };
  /** How mailboxes connect (defaults.inbound): logins per server host, start-up spread. Daemon-wide, applied live. */
  pacing: InboundPacing;
  defaultOutbound: ResolvedOutbound | null;
  mailboxes: Record<string, ResolvedMailbox>;
  companies: Record<string, ResolvedCompany>;
  webhooks: Record<string, ResolvedWebhook>;
  workflows: Record<string, { outbound: string }>;
  schedules: NonNullable<MailroomConfig['schedules']>;
  routes: Route[];
}
