// GENERATED from schemas/mailroom.schema.json by scripts/gen-types.ts: do not edit, run `npm run gen`.
/* eslint-disable */

/**
 * How long a client may take to send a request's headers (a connection that sends nothing counts too) before it is closed. Keeps slow or idle clients from holding connections. Changing it needs a restart.
 */
export type Duration = string
/**
 * How long a client may take to send a whole request, headers and body (at least headersTimeout). Changing it needs a restart.
 */
export type Duration1 = string
/**
 * How long an idle keep-alive connection stays open after a response. Changing it needs a restart.
 */
export type Duration2 = string
/**
 * Where tickets, checkpoints, queues, blobs and control state are kept. Changing it needs a restart. `lowdb` (default): files under `path`, one replica. `postgres`: a PostgreSQL 15+ database (`url` or `urlFile`, `leaseTtl`), the store for several replicas.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Store".
 */
export type StoreConfig = Store
/**
 * postgres only: how long a replica's lease on a mailbox (and on the outbox) lasts unrenewed. It is renewed every third of it; a replica that dies or is paused past it loses its mailboxes to the others, so this bounds failover (about one TTL plus a round). At least `3s`. Default `15s`.
 */
export type Duration3 = string
/**
 * An SMTP server and sender. Used for the global default, company overrides and mailbox outbound sides; fields left out are inherited from the layer below.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "OutboundServer".
 */
export type OutboundServer = OutboundFields
/**
 * Transport security: `tls` (implicit TLS, e.g. 993/995/465), `starttls` (upgrade a plain connection, e.g. 143/110/587), `none` (plaintext; only for loopback or test servers: with a password or OAuth2 to any other host `check` warns, and `--strict` fails).
 */
export type Security = ("tls" | "starttls" | "none")
/**
 * SMTP timeout (connection, greeting, socket); minimum 10s. Sending policy: inherited field by field, also under a layer that names a mailbox.
 */
export type Duration4 = string
/**
 * Group sends per window (e.g. `2s`); `0s` sends at once. Sending policy: inherited field by field, also under a layer that names a mailbox.
 */
export type Duration5 = string
/**
 * How often to poll when IDLE is not used. Default 60s.
 */
export type Duration6 = string
/**
 * What happens on the server once a message is committed: `keep` (default), `seen` (set \\Seen, IMAP), `move` (to `moveTo`, IMAP; the folder is created when missing), `delete`.
 */
export type AfterFetch = ("keep" | "seen" | "move" | "delete")
/**
 * Messages over this size become a ticket flagged too-big with their headers. Default 25MB.
 */
export type Size = (number | string)
/**
 * When many mailboxes start together (daemon start, a reload adding many), their first logins are spread over up to this long: each mailbox waits a stable share of the window (a hash of its id). The window is what the login rate needs for the batch beyond loginBurst (none for a few mailboxes), capped at this. Default 60s.
 */
export type Duration7 = string
/**
 * Per-request timeout. Default 10s.
 */
export type Duration8 = string
/**
 * First retry delay (doubles each try, with jitter). Default 30s.
 */
export type Duration9 = string
/**
 * Longest retry delay. Default 1h.
 */
export type Duration10 = string
/**
 * Attachments up to this size are sent inline as base64; larger ones as download URLs. Default 0 (never inline).
 */
export type Size1 = (number | string)
/**
 * The company's override of the global default: pick a `mailbox`, or override fields (e.g. only `from.name`).
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "CompanyOutbound".
 */
export type CompanyOutbound = (OutboundFields & CompanyOutbound1)
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Id".
 */
export type Id = string
/**
 * Provider preset that fills hosts, ports, TLS mode and OAuth2 endpoints and scopes for IMAP, POP3 and SMTP. Explicit fields win over the preset.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Provider".
 */
export type Provider = ("office365" | "outlook" | "gmail" | "yahoo" | "zoho" | "custom")
/**
 * Transport security: `tls` (implicit TLS, e.g. 993/995/465), `starttls` (upgrade a plain connection, e.g. 143/110/587), `none` (plaintext; only for loopback or test servers: with a password or OAuth2 to any other host `check` warns, and `--strict` fails).
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Security".
 */
export type Security1 = ("tls" | "starttls" | "none")
/**
 * What happens on the server once a message is committed: `keep` (default), `seen` (set \\Seen, IMAP), `move` (to `moveTo`, IMAP; the folder is created when missing), `delete`.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "AfterFetch".
 */
export type AfterFetch1 = ("keep" | "seen" | "move" | "delete")
/**
 * Poll interval for this mailbox.
 */
export type Duration11 = string
/**
 * Size limit for this mailbox.
 */
export type Size2 = (number | string)
/**
 * How mail is sent through this mailbox: SMTP (host, port and TLS default from the provider preset) or the mailbox's HTTP API (`transport: graph|gmail`); auth from the mailbox.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "MailboxOutbound".
 */
export type MailboxOutbound = (OutboundFields & MailboxOutbound1)
/**
 * Sender: an address, `@domain`, or a pattern.
 */
export type Pattern = string
/**
 * Any To recipient: an address, `@domain`, or a pattern.
 */
export type Pattern1 = string
/**
 * Any Cc recipient: an address, `@domain`, or a pattern.
 */
export type Pattern2 = string
/**
 * Subject pattern.
 */
export type Pattern3 = string
/**
 * Plain-text body pattern.
 */
export type Pattern4 = string
/**
 * A case-insensitive substring, or `/regex/flags`. A pattern sees the first 64 KiB (65,536 characters) of the body text and the first 8 KiB (8,192 characters) of the subject, of each header value and of each address, so that matching stays bounded on huge mail. `mailroom check` rejects a regex at risk of catastrophic backtracking (a repeated group that itself repeats, like `(\w+\s?)+`): one such regex on one message would stall every mailbox; repeat a character class instead (`^[\w\s]+$`).
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Pattern".
 */
export type Pattern5 = string
/**
 * At least this size.
 */
export type Size3 = (number | string)
/**
 * At most this size.
 */
export type Size4 = (number | string)
/**
 * A duration such as `500ms`, `30s`, `5m`, `2h`, `1d`.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Duration".
 */
export type Duration12 = string
/**
 * A size in bytes, or with a unit: `512KB`, `25MB`, `1GB` (powers of 1024).
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Size".
 */
export type Size5 = (number | string)

/**
 * mailroom configuration: one file or a directory of YAML files merged by their top-level maps. The single source of truth for validation, editor completion and docs/configuration.md.
 */
export interface MailroomConfig {
/**
 * Configuration format version. Only 1 exists. Required in one of the files (several may repeat it): a directory where no file sets it is most likely not a mailroom config.
 */
version: 1
server?: ServerConfig
store?: StoreConfig
log?: LogConfig
defaults?: Defaults
/**
 * Named business-hours calendars, used by routes (`during` / `outside`).
 */
schedules?: {
[k: string]: Schedule
}
/**
 * Named HTTP endpoints that routes deliver to with `deliver: [webhook:<id>]`.
 */
webhooks?: {
[k: string]: Webhook
}
/**
 * Named workflows of the platform (approval request, password reset ...) and the mailbox their mail leaves through.
 */
workflows?: {
[k: string]: Workflow
}
/**
 * Tenants of the platform, keyed by company id. One file per company is the usual GitOps layout.
 */
companies?: {
[k: string]: Company
}
/**
 * Mail accounts, keyed by mailbox id: inbound (IMAP/POP3), outbound (SMTP) or both.
 */
mailboxes?: {
[k: string]: Mailbox
}
/**
 * Routing rules, evaluated in order (files concatenated in file-name order). Every matching route applies its actions; a matching route with `stop: true` ends the evaluation.
 */
routes?: Route[]
}
/**
 * The daemon's HTTP endpoint: health, readiness, reload, metrics and the /v1 API.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Server".
 */
export interface ServerConfig {
/**
 * `host:port` to listen on, e.g. `127.0.0.1:9465` or `0.0.0.0:9465`. Changing it needs a restart.
 */
listen?: string
headersTimeout?: Duration
requestTimeout?: Duration1
keepAliveTimeout?: Duration2
/**
 * Connections open at once on `listen`; further ones are closed right away until some end. Changing it needs a restart.
 */
maxConnections?: number
/**
 * `host:port` of a second listener serving only GET /metrics (and /-/healthy), e.g. `0.0.0.0:9466` for Prometheus while `listen` stays private (127.0.0.1 or behind a reverse proxy). When set, `listen` no longer serves /metrics. Changing it needs a restart.
 */
metricsListen?: string
/**
 * `none`: GET /metrics answers anyone who reaches it (the metrics name every mailbox, company and webhook id). `token`: it needs `Authorization: Bearer` with one of `apiTokens` whose companies are `["*"]` (Prometheus: `authorization: {credentials_file: ...}`).
 */
metricsAuth?: ("none" | "token")
/**
 * Base URL under which the API is reachable from outside (used in links sent to webhooks, e.g. attachment download URLs).
 */
publicUrl?: string
/**
 * Bearer tokens for the /v1 API and POST /-/reload, each scoped to companies.
 */
apiTokens?: ApiToken[]
}
/**
 * A bearer token for the API. Give exactly one of `token` and `tokenFile`.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "ApiToken".
 */
export interface ApiToken {
/**
 * Name of the token's holder, shown in logs (never the token).
 */
name: string
/**
 * The token itself; write it as `${ENV_VAR}`, never literally in Git.
 */
token?: string
/**
 * File holding the token (read when used, so rotation needs no reload). Like `token`, it must hold at least 16 characters: a shorter one authenticates nobody.
 */
tokenFile?: string
/**
 * Companies this token may see; `"*"` means all (and allows POST /-/reload).
 * 
 * @minItems 1
 * 
 * Items: A company id, or `*`.
 */
companies: [string, ...(string)[]]
}
export interface Store {
/**
 * Storage driver. `lowdb`: embedded files under `path` (single replica). `postgres`: PostgreSQL (`url` or `urlFile`, `schema`, `pool`, `ssl`).
 */
driver?: ("lowdb" | "postgres")
/**
 * lowdb only: data directory, relative to the working directory. Default `./data`.
 */
path?: string
/**
 * postgres only: connection URL, `postgres://user:password@host:5432/db?sslmode=verify-full`; write the password as `${ENV_VAR}` (or give `urlFile`). Kept sealed like a secret and shown with the password masked. Mutually exclusive with `urlFile`.
 */
url?: string
/**
 * postgres only: file holding the connection URL (a mounted Secret), read at start.
 */
urlFile?: string
/**
 * postgres only: the PostgreSQL schema holding mailroom's tables, created and migrated at start. Default `mailroom`.
 */
schema?: string
/**
 * postgres only: the connection pool of each replica.
 */
pool?: {
/**
 * Connections per replica (plus one for LISTEN). Default 10.
 */
max?: number
}
leaseTtl?: Duration3
/**
 * postgres only: TLS beyond the URL's `sslmode` (managed PostgreSQL with a private CA).
 */
ssl?: {
/**
 * PEM file of the CA that signed the server's certificate.
 */
caFile?: string
/**
 * Verify the server's certificate against the CA. Default true.
 */
rejectUnauthorized?: boolean
}
}
/**
 * Logging. The environment variable MAILROOM_LOG_LEVEL wins over this.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Log".
 */
export interface LogConfig {
/**
 * Minimum level logged.
 */
level?: ("trace" | "debug" | "info" | "warn" | "error" | "fatal")
}
/**
 * Global defaults: the default outbound server (system mail, and every company without an override) and inbound defaults for every mailbox.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Defaults".
 */
export interface Defaults {
outbound?: OutboundServer
inbound?: InboundDefaults
}
/**
 * The fields of an SMTP server and sender (shared by OutboundServer, MailboxOutbound and CompanyOutbound). Layers, lowest first: global default → company (after `extends`) → contract → workflow → explicit mailbox. A layer that names a mailbox replaces the server and identity below it (host, port, security, verifyCertificate, caFile, auth, from, sendAs) with that mailbox's; the sending policy (timeout, batchWindow, maxPerMinute, maxConnections) is inherited field by field from the layers below unless the mailbox sets it.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "OutboundFields".
 */
export interface OutboundFields {
/**
 * SMTP host.
 */
host?: string
/**
 * SMTP port. Default from `security`: 587 starttls, 465 tls, 25 none (or the provider preset's).
 */
port?: number
security?: Security
/**
 * Verify the server's TLS certificate; false is warned about.
 */
verifyCertificate?: boolean
/**
 * PEM file of a private CA to trust for this server.
 */
caFile?: string
auth?: Auth
from?: Address
/**
 * `mailbox`: From is the mailbox, Reply-To the person. `user`: From is the person, Sender the mailbox (the server must allow sending on behalf).
 */
sendAs?: ("mailbox" | "user")
timeout?: Duration4
batchWindow?: Duration5
/**
 * Rate limit for this server. Sending policy: inherited field by field, also under a layer that names a mailbox.
 */
maxPerMinute?: number
/**
 * Pooled SMTP connections to this server. Sending policy: inherited field by field, also under a layer that names a mailbox.
 */
maxConnections?: number
}
/**
 * Credentials of a mail account: a password (app password) given as `${VAR}` or `passwordFile`, or OAuth2. Passwords never belong literally in the config.
 */
export interface Auth {
/**
 * Login name, usually the address.
 */
user?: string
/**
 * Password; write `${ENV_VAR}`. Mutually exclusive with `passwordFile` and `oauth2`.
 */
password?: string
/**
 * File holding the password (read when used: rotation needs no reload).
 */
passwordFile?: string
oauth2?: OAuth2
}
/**
 * OAuth2 token source for XOAUTH2 (Microsoft 365, Google, other providers).
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "OAuth2".
 */
export interface OAuth2 {
/**
 * `client_credentials` (Microsoft 365 app-only), `refresh_token` (delegated, Google and Microsoft) or `service_account` (Google Workspace: a service account with domain-wide delegation acting as `auth.user`, RFC 7523 JWT bearer grant signed with the key in `serviceAccountKeyFile`).
 */
flow: ("client_credentials" | "refresh_token" | "service_account")
/**
 * Microsoft Entra tenant id (office365 preset).
 */
tenantId?: string
/**
 * Application (client) id.
 */
clientId: string
/**
 * Client secret; write `${ENV_VAR}`. Mutually exclusive with `clientSecretFile`.
 */
clientSecret?: string
/**
 * File holding the client secret.
 */
clientSecretFile?: string
/**
 * Date the client secret expires (warning state and metric ahead of it).
 */
clientSecretExpires?: string
/**
 * Initial refresh token (refresh_token flow); write `${ENV_VAR}`. Rotated tokens are kept in mailroom's state, never written back here.
 */
refreshToken?: string
/**
 * File holding the initial refresh token.
 */
refreshTokenFile?: string
/**
 * flow service_account: the service account's JSON key file as Google issues it (client_email, private_key); read when a token is needed, never logged.
 */
serviceAccountKeyFile?: string
/**
 * Token endpoint; defaults from the provider preset.
 */
tokenUrl?: string
/**
 * Scopes requested, space separated; defaults from the provider preset.
 */
scope?: string
}
/**
 * A sender identity. Either field may be omitted in an override to keep the inherited one.
 */
export interface Address {
/**
 * Display name, e.g. `ACME Suporte`.
 */
name?: string
/**
 * E-mail address, e.g. `suporte@acme.com.br`.
 */
address?: string
}
/**
 * Defaults for every inbound mailbox.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "InboundDefaults".
 */
export interface InboundDefaults {
pollInterval?: Duration6
/**
 * Use IMAP IDLE where the server offers it. Default true.
 */
idle?: boolean
afterFetch?: AfterFetch
maxMessageSize?: Size
/**
 * New tickets per sender per hour before further ones are held (loop protection). Default 20.
 */
senderRateLimit?: number
/**
 * IMAP and POP3 logins per second to one server host, shared by every mailbox on that host (start-up, reconnects after errors, restarts on reload). A token bucket: up to loginBurst logins at once, then this rate. Real providers limit logins per client IP. Default 10.
 */
loginsPerSecond?: number
/**
 * Logins to one server host that may start at once before loginsPerSecond applies. Default 20.
 */
loginBurst?: number
startSpread?: Duration7
}
/**
 * Business hours in an IANA timezone, with holidays.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Schedule".
 */
export interface Schedule {
/**
 * IANA timezone, e.g. `America/Sao_Paulo`.
 */
timezone: string
/**
 * Open ranges per day or day range: `mon-fri: ["08:00-12:00", "13:00-18:00"]`.
 */
weekly: {
/**
 * Time ranges `HH:MM-HH:MM`.
 * 
 * Items: `HH:MM-HH:MM`, end after start.
 */
[k: string]: string[]
}
/**
 * Closed dates (YYYY-MM-DD).
 * 
 * Items: A date.
 */
holidays?: string[]
}
/**
 * An HTTP endpoint receiving signed JSON deliveries.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Webhook".
 */
export interface Webhook {
/**
 * http(s) URL.
 */
url: string
/**
 * HMAC-SHA256 signing secret; write `${ENV_VAR}`. Mutually exclusive with `secretFile`.
 */
secret?: string
/**
 * File holding the signing secret.
 */
secretFile?: string
timeout?: Duration8
/**
 * Tries before a delivery is dead-lettered. Default 10.
 */
maxAttempts?: number
initialBackoff?: Duration9
maxBackoff?: Duration10
/**
 * Parallel requests to this webhook. Default 4.
 */
concurrency?: number
inlineAttachmentsUpTo?: Size1
}
/**
 * A workflow of the platform and where its mail leaves from.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Workflow".
 */
export interface Workflow {
/**
 * Free text.
 */
description?: string
/**
 * `contract` (the contract's outbound mailbox), `default` (the global default, system sender) or a mailbox id.
 */
outbound?: string
}
/**
 * A tenant of the platform.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Company".
 */
export interface Company {
/**
 * Display name.
 */
name?: string
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 */
extends?: string
/**
 * Ticket id prefix, e.g. `ACME` for `ACME-000123`. Default: the id, upper-cased.
 */
ticketPrefix?: string
/**
 * Sender domains of this company, for mailboxes shared by several companies.
 * 
 * Items: A domain, e.g. `acme.com.br`.
 */
domains?: string[]
/**
 * Notification recipients.
 */
notify?: Notify[]
outbound?: CompanyOutbound
acknowledge?: Acknowledge
/**
 * Contracts, keyed by contract id.
 */
contracts?: {
[k: string]: Contract
}
}
/**
 * Who is told when something goes wrong for this company.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Notify".
 */
export interface Notify {
/**
 * Address notified.
 */
address: string
/**
 * Events sent to this address (default all).
 * 
 * Items: An event.
 */
events?: ("mailbox-suspended" | "delivery-failed" | "credential-expiring" | "mailbox-down")[]
}
export interface CompanyOutbound1 {
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 */
mailbox?: string
}
/**
 * Acknowledgement sent when a ticket is created (never to auto-replies, bounces, lists or loops).
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Acknowledge".
 */
export interface Acknowledge {
/**
 * Send acknowledgements. Default true when this block exists.
 */
enabled?: boolean
/**
 * Subject template, e.g. `We received your request [{{ticket.id}}]`.
 */
subject: string
/**
 * Body template.
 */
text: string
}
/**
 * A contract of a company, with its own inbound and outbound mailboxes.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Contract".
 */
export interface Contract {
/**
 * Display name.
 */
name?: string
/**
 * Mail read from these mailboxes belongs to this contract.
 */
inbound?: Id[]
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 */
outbound?: string
ticket?: TicketDefaults
acknowledge?: Acknowledge
}
/**
 * Ticket fields given to tickets of this contract unless a route sets them.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "TicketDefaults".
 */
export interface TicketDefaults {
/**
 * Ticket type, e.g. `incident`.
 */
type?: string
/**
 * Service group, e.g. `n1`.
 */
group?: string
/**
 * Priority, e.g. `normal`.
 */
priority?: string
/**
 * Tags.
 * 
 * Items: A tag.
 */
tags?: string[]
}
/**
 * A mail account with an inbound side, an outbound side, or both.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Mailbox".
 */
export interface Mailbox {
/**
 * Free text for people.
 */
description?: string
/**
 * false: configured but not polled nor used to send. Default true.
 */
enabled?: boolean
provider?: Provider
/**
 * Base URL of the mailbox's HTTP API for `inbound.protocol: graph|gmail` and `outbound.transport: graph|gmail`; defaults from the provider preset (office365/outlook: https://graph.microsoft.com/v1.0, gmail: https://gmail.googleapis.com). Set it for Microsoft's national clouds (https://graph.microsoft.us/v1.0, https://microsoftgraph.chinacloudapi.cn/v1.0) or a test peer.
 */
apiUrl?: string
/**
 * The mailbox's own address.
 */
address?: string
auth?: Auth1
inbound?: Inbound
outbound?: MailboxOutbound
}
/**
 * Credentials of a mail account: a password (app password) given as `${VAR}` or `passwordFile`, or OAuth2. Passwords never belong literally in the config.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Auth".
 */
export interface Auth1 {
/**
 * Login name, usually the address.
 */
user?: string
/**
 * Password; write `${ENV_VAR}`. Mutually exclusive with `passwordFile` and `oauth2`.
 */
password?: string
/**
 * File holding the password (read when used: rotation needs no reload).
 */
passwordFile?: string
oauth2?: OAuth2
}
/**
 * How mail is read from this mailbox.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Inbound".
 */
export interface Inbound {
/**
 * `imap` or `pop3`; `graph` (Microsoft Graph API, Microsoft 365 and Outlook.com) or `gmail` (Gmail API) read the mailbox over HTTPS with `auth.oauth2` and no IMAP/POP3 (host, port, security and idle do not apply).
 */
protocol: ("imap" | "pop3" | "graph" | "gmail")
/**
 * Server host; defaults from the provider preset.
 */
host?: string
/**
 * Server port; defaults from security (993/143, 995/110) or the preset.
 */
port?: number
security?: Security1
/**
 * Verify the server's TLS certificate. Default true; false is warned about.
 */
verifyCertificate?: boolean
/**
 * PEM file of a private CA to trust for this server.
 */
caFile?: string
/**
 * Folder to read. Default INBOX. IMAP: the folder path; graph: a well-known folder name (`inbox`, `archive` ...) or a display path (`Support/Orders`); gmail: a label id or name (`INBOX`).
 */
folder?: string
/**
 * Read nothing older than this date (IMAP SEARCH SINCE; POP3 by the Date header; graph and gmail: on the first sync).
 */
since?: string
afterFetch?: AfterFetch1
/**
 * Folder for `afterFetch: move` (IMAP, graph: created when missing); gmail: the label added (created when missing) while the folder's label is removed.
 */
moveTo?: string
/**
 * Tickets from this mailbox wait for approval before they enter the queue.
 */
hold?: boolean
pollInterval?: Duration11
/**
 * Use IMAP IDLE for this mailbox.
 */
idle?: boolean
maxMessageSize?: Size2
/**
 * Messages fetched per batch (memory stays bounded). Default 100.
 */
batchSize?: number
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 */
fallbackCompany?: string
}
export interface MailboxOutbound1 {
/**
 * `smtp`, `graph` (Microsoft Graph sendMail with the MIME message; Graph keeps a copy in Sent Items, as it does for every MIME send) or `gmail` (Gmail messages.send with the raw message). Default: the inbound protocol of a mailbox read through graph or gmail, else smtp. The API transports need `auth.oauth2` and take no host, port or security.
 */
transport?: ("smtp" | "graph" | "gmail")
}
/**
 * A routing rule: conditions and actions.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Route".
 */
export interface Route {
/**
 * Unique name, shown by `mailroom route` and in tickets.
 */
name: string
match?: RouteMatch
/**
 * Ticket fields to set.
 */
set?: {
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 */
company?: string
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 */
contract?: string
/**
 * Ticket type.
 */
type?: string
/**
 * Service group.
 */
group?: string
/**
 * Priority.
 */
priority?: string
/**
 * Tags added.
 * 
 * Items: A tag.
 */
tags?: string[]
}
/**
 * Ticket field → template over mail fields: `{{subject}}`, `{{from.address}}`, `{{from.name}}`, `{{text}}`, `{{header.X-Foo}}`, `{{mailbox}}`.
 */
fields?: {
[k: string]: string
}
/**
 * Hold the ticket for approval.
 */
hold?: boolean
/**
 * Drop the message with this reason (counted; raw kept).
 */
drop?: string
/**
 * Destinations: `store`, `webhook:<id>`. Default `[store]`.
 * 
 * @minItems 1
 * 
 * Items: `store` or `webhook:<id>`.
 */
deliver?: [string, ...(string)[]]
/**
 * Stop evaluating later routes when this one matches.
 */
stop?: boolean
}
/**
 * Conditions, all of which must hold.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "RouteMatch".
 */
export interface RouteMatch {
/**
 * Mailbox id (or list of ids) the message was read from.
 */
mailbox?: (Id | Id[])
from?: Pattern
to?: Pattern1
cc?: Pattern2
subject?: Pattern3
body?: Pattern4
/**
 * Header name → pattern; the header must exist and match.
 */
header?: {
[k: string]: Pattern5
}
/**
 * Whether the message has (non-inline) attachments.
 */
hasAttachment?: boolean
/**
 * Raw size bounds.
 */
size?: {
min?: Size3
max?: Size4
}
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 */
during?: string
/**
 * An identifier: letters, digits, `-`, `_`, `.`; starts with a letter or digit. The names of JavaScript's object members (`constructor`, `toString`, `valueOf`, `hasOwnProperty`, `isPrototypeOf`, `propertyIsEnumerable`, `toLocaleString`) are reserved.
 */
outside?: string
}
/**
 * A sender identity. Either field may be omitted in an override to keep the inherited one.
 * 
 * This interface was referenced by `MailroomConfig`'s JSON-Schema
 * via the `definition` "Address".
 */
export interface Address1 {
/**
 * Display name, e.g. `ACME Suporte`.
 */
name?: string
/**
 * E-mail address, e.g. `suporte@acme.com.br`.
 */
address?: string
}
