// Pure resolution of a validated config into the immutable Snapshot: presets, defaults, extends,
// mailbox owners, secrets sealed. No I/O: `*File` secrets stay references, read when used.
import { inboundField, senderRateLimit } from './inbound-layers.js';
import { schemaDefault } from './schema-defaults.js';
import { resolve as resolvePath } from 'node:path';
import { parseDuration, parseSize } from './duration.js';
import { idMap } from './id-map.js';
import { companyChain, decideOutbound, fieldMs, type OutboundFields } from './outbound-layers.js';
import { apiPresetFor, defaultPort, isApiProtocol, presetFor, type ApiKind } from './presets.js';
import type { Problem } from './problems.js';
import { Secret, type SecretSource } from './secret.js';
import type { ResolvedAuth, ResolvedCompany, ResolvedInbound, ResolvedMailbox, ResolvedOutbound, ResolvedStore, Snapshot } from './snapshot.js';
import type { Auth, MailroomConfig, Provider, Store } from './types.generated.js';
import type { NodeLocation } from './yaml-file.js';

/** inbound.batchSize when a mailbox does not set one (the schema's description says the same). */
export const DEFAULT_BATCH_SIZE: number = schemaDefault<number>('Inbound', 'batchSize');

/** Field names marked `x-secret` in the schema (a test keeps this list equal to the schema's). */
export const SECRET_FIELDS = ['password', 'clientSecret', 'refreshToken', 'token', 'secret'] as const;

/** Wrap every secret value in a Secret so that printing the config can never show it. */
export function sealSecrets<T>(value: T): T {
  const sealed = sealFields(value);
  // store.url carries the database password; `url` elsewhere (webhooks) is not a secret.
  const store = (sealed as { store?: { url?: unknown } } | null)?.store;
  if (store && typeof store.url === 'string') store.url = new Secret(store.url);
  return sealed;
}

function sealFields<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sealFields) as T;
  if (typeof value !== 'object' || value === null || value instanceof Secret) return value;
  // Prototype-less, like every id-keyed record: config maps are looked up by ids from requests (id-map.ts).
  const out = idMap<unknown>();
  for (const [k, v] of Object.entries(value)) out[k] = (SECRET_FIELDS as readonly string[]).includes(k) && typeof v === 'string' ? new Secret(v) : sealFields(v);
  return out as T;
}

function source(inline: unknown, file: string | undefined): SecretSource | null {
  if (inline instanceof Secret) return { kind: 'value', secret: inline };
  if (typeof inline === 'string') return { kind: 'value', secret: new Secret(inline) };
  if (file) return { kind: 'file', path: file };
  return null;
}

/** `store:` as the store opener needs it (the schema already refused impossible combinations). */
export function resolveStore(s: Store | undefined): ResolvedStore {
  if (s?.driver === 'postgres') {
    const url = source(s.url, s.urlFile);
    if (!url) throw new Error('store.driver postgres needs url or urlFile');
    return {
      driver: 'postgres',
      path: resolvePath('./data'),
      url,
      schema: s.schema ?? 'mailroom',
      pool: { max: s.pool?.max ?? 10 },
      leaseTtlMs: parseDuration(s.leaseTtl ?? '15s'),
      ssl: s.ssl ? { caFile: s.ssl.caFile ? resolvePath(s.ssl.caFile) : null, rejectUnauthorized: s.ssl.rejectUnauthorized ?? true } : null,
    };
  }
  return { driver: 'lowdb', path: resolvePath(s?.path ?? './data') };
}

export function resolveAuth(auth: Auth | undefined, provider: Provider | undefined, protocol: 'imap' | 'pop3' | 'smtp' | ApiKind): ResolvedAuth | null {
  if (!auth?.user) return null;
  const o = auth.oauth2;
  const preset = presetFor(provider)?.oauth2;
  const api = isApiProtocol(protocol) ? apiPresetFor(provider, protocol) : undefined;
  return {
    user: auth.user,
    password: source(auth.password, auth.passwordFile),
    oauth2: o
      ? {
          flow: o.flow,
          tenantId: o.tenantId ?? null,
          clientId: o.clientId,
          // service_account: the JSON key file stands where a client secret does (read when used, fingerprinted, scrubbed)
          clientSecret: o.flow === 'service_account' ? source(undefined, o.serviceAccountKeyFile) : source(o.clientSecret, o.clientSecretFile),
          refreshToken: source(o.refreshToken, o.refreshTokenFile),
          tokenUrl: o.tokenUrl ?? preset?.tokenUrl.replace('{tenantId}', o.tenantId ?? 'common') ?? null,
          scope: o.scope ?? (isApiProtocol(protocol) ? (o.flow === 'client_credentials' ? api?.clientCredentials : api?.scope) : o.flow === 'client_credentials' ? preset?.scope.clientCredentials : preset?.scope[protocol]) ?? null,
          clientSecretExpires: o.clientSecretExpires ?? null,
        }
      : null,
  };
}

/**
 * A mailbox read through an API and given no outbound side of its own sends through the same API
 * (not the preset's SMTP: where IMAP is off, SMTP AUTH usually is too).
 */
export function apiSendDefault(mb: { inbound?: { protocol?: string }; outbound?: { transport?: string } } | undefined): ApiKind | undefined {
  const p = mb?.inbound?.protocol;
  return mb && mb.outbound?.transport === undefined && isApiProtocol(p) ? p : undefined;
}

/** The sending settings from decideOutbound's flat fields (also used by src/outbound per message). */
export function outboundFromFields(fields: OutboundFields, mailbox: string | null, provider: Provider | undefined, apiUrl?: string, defaultTransport?: ApiKind): ResolvedOutbound | null {
  const get = (k: string) => fields.get(k)?.value;
  const t = get('transport') ?? defaultTransport;
  const transport: ResolvedOutbound['transport'] = t === 'graph' || t === 'gmail' ? t : 'smtp';
  const api = transport === 'smtp' ? null : (apiUrl ?? apiPresetFor(provider, transport)?.url ?? null);
  const host = transport === 'smtp' ? get('host') : '';
  if (typeof host !== 'string') return null;
  const authObj: Record<string, unknown> = {};
  for (const [k, f] of fields) {
    if (!k.startsWith('auth.')) continue;
    const parts = k.slice(5).split('.');
    let cur = authObj;
    parts.slice(0, -1).forEach((p) => (cur = (cur[p] ??= {}) as Record<string, unknown>));
    cur[parts[parts.length - 1]!] = f.value;
  }
  const security = get('security') as ResolvedOutbound['security'];
  return {
    mailbox,
    host,
    port: (get('port') as number | undefined) ?? defaultPort('smtp', security),
    security,
    verifyCertificate: get('verifyCertificate') !== false,
    caFile: (get('caFile') as string | undefined) ?? null,
    auth: resolveAuth(authObj as unknown as Auth, provider, transport === 'smtp' ? 'smtp' : transport),
    transport,
    apiUrl: api,
    from: { name: String(get('from.name') ?? ''), address: String(get('from.address') ?? '') },
    sendAs: get('sendAs') === 'user' ? 'user' : 'mailbox',
    timeoutMs: fieldMs(fields, 'timeout'),
    batchWindowMs: fieldMs(fields, 'batchWindow'),
    maxPerMinute: (get('maxPerMinute') as number | undefined) ?? null,
    maxConnections: (get('maxConnections') as number | undefined) ?? schemaDefault<number>('OutboundFields', 'maxConnections'),
  };
}

export function resolveSnapshot(
  cfg: MailroomConfig,
  meta: { hash: string; files: string[]; locations: Map<string, NodeLocation>; warnings: Problem[] },
): Snapshot {
  const config = sealSecrets(cfg);
  const di = config.defaults?.inbound;
  const owners = new Map<string, { company: string; contract: string }[]>();
  for (const [cid, c] of Object.entries(config.companies ?? {}))
    for (const [kid, k] of Object.entries(c.contracts ?? {}))
      for (const mb of k.inbound ?? []) (owners.get(mb) ?? owners.set(mb, []).get(mb)!).push({ company: cid, contract: kid });

  const mailboxes = idMap<ResolvedMailbox>();
  for (const [id, mb] of Object.entries(config.mailboxes ?? {})) {
    let inbound: ResolvedInbound | null = null;
    if (mb.inbound) {
      const i = mb.inbound;
      const api = isApiProtocol(i.protocol) ? i.protocol : null;
      const preset = api ? undefined : presetFor(mb.provider)?.[i.protocol as 'imap' | 'pop3'];
      const security = i.security ?? preset?.security ?? 'tls';
      inbound = {
        protocol: i.protocol,
        // An API mailbox has no host or port of its own: apiUrl (or the preset's) says where.
        apiUrl: api ? (mb.apiUrl ?? apiPresetFor(mb.provider, api)?.url ?? null) : null,
        host: api ? '' : (i.host ?? preset?.host ?? ''),
        port: api ? 0 : (i.port ?? (preset && (!i.security || i.security === preset.security) ? preset.port : defaultPort(i.protocol as 'imap' | 'pop3', security))),
        security,
        verifyCertificate: i.verifyCertificate !== false,
        caFile: i.caFile ?? null,
        folder: i.folder ?? schemaDefault<string>('Inbound', 'folder'),
        since: i.since ?? null,
        afterFetch: inboundField('afterFetch', i, di).value,
        moveTo: i.moveTo ?? null,
        hold: i.hold ?? false,
        pollIntervalMs: parseDuration(inboundField('pollInterval', i, di).value),
        idle: inboundField('idle', i, di).value,
        maxMessageSize: parseSize(inboundField('maxMessageSize', i, di).value),
        batchSize: i.batchSize ?? DEFAULT_BATCH_SIZE,
        fallbackCompany: i.fallbackCompany ?? null,
        senderRateLimit: senderRateLimit(di).value,
      };
    }
    const hasOutbound = Boolean(mb.outbound) || Boolean(presetFor(mb.provider)?.smtp);
    const outbound = hasOutbound ? outboundFromFields(decideOutbound(config, meta.locations, { mailbox: id }).fields, id, mb.provider, mb.apiUrl, apiSendDefault(mb)) : null;
    const transport = mb.outbound?.transport;
    mailboxes[id] = {
      id,
      description: mb.description ?? '',
      enabled: mb.enabled !== false,
      provider: mb.provider ?? null,
      address: mb.address ?? null,
      auth: resolveAuth(mb.auth, mb.provider, mb.inbound?.protocol ?? (isApiProtocol(transport) ? transport : 'imap')),
      inbound,
      outbound,
      owners: owners.get(id) ?? [],
    };
  }

  const companies = idMap<ResolvedCompany>();
  for (const [id, c] of Object.entries(config.companies ?? {})) {
    const chain = companyChain(config, id);
    const inherited = chain.map((cid) => config.companies?.[cid]);
    const last = <T>(f: (x: NonNullable<(typeof inherited)[number]>) => T | undefined): T | undefined =>
      inherited.reduce<T | undefined>((acc, x) => (x && f(x) !== undefined ? f(x) : acc), undefined);
    companies[id] = {
      id,
      name: last((x) => x.name) ?? id,
      chain,
      ticketPrefix: c.ticketPrefix ?? defaultPrefix(id),
      domains: (c.domains ?? []).map((d) => d.toLowerCase().replace(/^@/, '')),
      notify: last((x) => x.notify) ?? [],
      acknowledge: last((x) => x.acknowledge) ?? null,
      contracts: idMap(
        Object.entries(c.contracts ?? {}).map(([kid, k]) => [
          kid,
          { id: kid, company: id, name: k.name ?? kid, inbound: k.inbound ?? [], outbound: k.outbound ?? null, ticket: k.ticket ?? {}, acknowledge: k.acknowledge ?? null },
        ]),
      ),
    };
  }

  const hostPort = (s: string) => {
    const sep = s.lastIndexOf(':');
    return { host: s.slice(0, sep).replace(/^\[|\]$/g, ''), port: Number(s.slice(sep + 1)) };
  };
  const sv = config.server ?? {};
  const defaults = decideOutbound(config, meta.locations, {});
  return deepFreeze({
    hash: meta.hash,
    files: meta.files,
    config,
    locations: meta.locations,
    warnings: meta.warnings,
    server: {
      listen: hostPort(sv.listen ?? '127.0.0.1:9465'),
      // the defaults are the schema's (a test keeps them equal)
      limits: {
        headersTimeoutMs: parseDuration(sv.headersTimeout ?? '10s'),
        requestTimeoutMs: parseDuration(sv.requestTimeout ?? '60s'),
        keepAliveTimeoutMs: parseDuration(sv.keepAliveTimeout ?? '5s'),
        maxConnections: sv.maxConnections ?? 256,
      },
      metricsListen: sv.metricsListen ? hostPort(sv.metricsListen) : null,
      metricsAuth: sv.metricsAuth ?? 'none',
      publicUrl: config.server?.publicUrl ?? null,
      apiTokens: (config.server?.apiTokens ?? []).flatMap((t) => {
        const token = source(t.token, t.tokenFile);
        return token ? [{ name: t.name, token, companies: t.companies.includes('*') ? ('*' as const) : t.companies }] : [];
      }),
    },
    store: resolveStore(config.store),
    log: { level: process.env.MAILROOM_LOG_LEVEL ?? config.log?.level ?? 'info' },
    pacing: {
      loginsPerSecond: di?.loginsPerSecond ?? schemaDefault<number>('InboundDefaults', 'loginsPerSecond'),
      loginBurst: di?.loginBurst ?? schemaDefault<number>('InboundDefaults', 'loginBurst'),
      startSpreadMs: parseDuration(di?.startSpread ?? schemaDefault<string>('InboundDefaults', 'startSpread')),
    },
    defaultOutbound: config.defaults?.outbound ? outboundFromFields(defaults.fields, null, undefined) : null,
    mailboxes,
    companies,
    webhooks: idMap(
      Object.entries(config.webhooks ?? {}).map(([id, w]) => [
        id,
        {
          id,
          url: w.url,
          secret: source(w.secret, w.secretFile),
          timeoutMs: parseDuration(w.timeout ?? '10s'),
          maxAttempts: w.maxAttempts ?? 10,
          initialBackoffMs: parseDuration(w.initialBackoff ?? '30s'),
          maxBackoffMs: parseDuration(w.maxBackoff ?? '1h'),
          concurrency: w.concurrency ?? 4,
          inlineAttachmentsUpTo: parseSize(w.inlineAttachmentsUpTo ?? 0),
        },
      ]),
    ),
    workflows: idMap(Object.entries(config.workflows ?? {}).map(([id, w]) => [id, { outbound: w.outbound ?? 'contract' }])),
    schedules: config.schedules ?? {},
    routes: config.routes ?? [],
  });
}

function deepFreeze<T>(o: T): T {
  if (typeof o !== 'object' || o === null || Object.isFrozen(o) || o instanceof Map || o instanceof Secret) return o;
  for (const v of Object.values(o)) deepFreeze(v);
  return Object.freeze(o);
}

/** A company id as a ticket prefix that subject tags can match: `^[A-Z][A-Z0-9]{1,11}$`. */
export function defaultPrefix(id: string): string {
  let p = id.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (!/^[A-Z]/.test(p)) p = `T${p}`;
  return p.length < 2 ? `${p}X` : p.slice(0, 12);
}
