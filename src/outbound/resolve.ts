// Which server and identity an outbound message uses: a thin wrapper over the pure decideOutbound
// (src/config/outbound-layers.ts), which `mailroom explain` prints too, so explain and the sender
// agree by construction. Pure.
import { createHash } from 'node:crypto';
import { decideOutbound, fieldMs, type OutboundDecision, type OutboundFields, type OutboundRequest } from '../config/outbound-layers.js';
import { resolveAuth } from '../config/resolve.js';
import { defaultPort } from '../config/presets.js';
import type { ResolvedOutbound, Snapshot } from '../config/snapshot.js';
import type { Auth } from '../config/types.generated.js';

/** The SMTP timeout is never below 10 s (the config check rejects less; this guards the code path). */
export const MIN_TIMEOUT_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 180_000;

export interface SenderResolution {
  decision: OutboundDecision;
  /** null: no layer gives an SMTP host (nothing can send this). */
  server: ResolvedOutbound | null;
  /** Metric/log label: the mailbox id, or `default` for the global default server. */
  label: string;
}

/**
 * The same conversion resolve.ts applies to snapshot.mailboxes[*].outbound and defaultOutbound (its
 * `outboundFromFields` is not exported); a unit test keeps the two equal.
 */
export function serverFromFields(fields: OutboundFields, mailbox: string | null, snap: Snapshot): ResolvedOutbound | null {
  const get = (k: string) => fields.get(k)?.value;
  const host = get('host');
  if (typeof host !== 'string') return null;
  const authObj: Record<string, unknown> = {};
  for (const [k, f] of fields) {
    if (!k.startsWith('auth.')) continue;
    const parts = k.slice(5).split('.');
    let cur = authObj;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1]!] = f.value;
  }
  const security = get('security') as ResolvedOutbound['security'];
  const provider = mailbox ? (snap.mailboxes[mailbox]?.provider ?? undefined) : undefined;
  const timeoutMs = fieldMs(fields, 'timeout');
  return {
    mailbox,
    host,
    port: (get('port') as number | undefined) ?? defaultPort('smtp', security),
    security,
    verifyCertificate: get('verifyCertificate') !== false,
    caFile: (get('caFile') as string | undefined) ?? null,
    auth: resolveAuth(authObj as unknown as Auth, provider, 'smtp'),
    from: { name: String(get('from.name') ?? ''), address: String(get('from.address') ?? '') },
    sendAs: get('sendAs') === 'user' ? 'user' : 'mailbox',
    timeoutMs,
    batchWindowMs: fieldMs(fields, 'batchWindow'),
    maxPerMinute: (get('maxPerMinute') as number | undefined) ?? null,
    maxConnections: (get('maxConnections') as number | undefined) ?? 5,
  };
}

export function resolveSender(snap: Snapshot, req: OutboundRequest): SenderResolution {
  const decision = decideOutbound(snap.config, snap.locations, req);
  const server = serverFromFields(decision.fields, decision.mailbox, snap);
  if (server) server.timeoutMs = effectiveTimeout(server.timeoutMs);
  return { decision, server, label: decision.mailbox ?? 'default' };
}

const cache = new WeakMap<Snapshot, Map<string, SenderResolution>>();

/** resolveSender, memoised per (immutable) snapshot: the sender asks for every message. Do not mutate the result. */
export function resolveSenderCached(snap: Snapshot, req: OutboundRequest): SenderResolution {
  let m = cache.get(snap);
  if (!m) cache.set(snap, (m = new Map()));
  const k = `${req.company ?? ''}\0${req.contract ?? ''}\0${req.workflow ?? ''}\0${req.mailbox ?? ''}\0${req.kind ?? 'user'}`;
  let r = m.get(k);
  if (!r) {
    if (m.size > 10_000) m.clear();
    m.set(k, (r = resolveSender(snap, req)));
  }
  return r;
}

export function effectiveTimeout(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return DEFAULT_TIMEOUT_MS;
  return Math.max(MIN_TIMEOUT_MS, ms);
}

/** The address a message is sent from: the server's from.address, else an address-like auth.user. */
export function senderAddress(server: ResolvedOutbound): string | null {
  if (server.from.address) return server.from.address;
  const user = server.auth?.user ?? '';
  return /^[^@\s]+@[^@\s]+$/.test(user) ? user : null;
}

/**
 * Identity of a connection pool: two requests that resolve to the same mailbox and the same server
 * settings share one pooled transport. Secrets are compared by reference to their source, never by value.
 */
const keys = new WeakMap<ResolvedOutbound, { label: string; key: string }>();

export function transportKey(label: string, s: ResolvedOutbound): string {
  const hit = keys.get(s);
  if (hit?.label === label) return hit.key;
  const key = computeKey(label, s);
  keys.set(s, { label, key });
  return key;
}

function computeKey(label: string, s: ResolvedOutbound): string {
  const pw = s.auth?.password;
  // A hash (never shown anywhere) so that a changed inline password gets a new pool.
  const secret = pw ? (pw.kind === 'file' ? `file:${pw.path}` : `value:${createHash('sha256').update(pw.secret.reveal()).digest('hex').slice(0, 16)}`) : s.auth?.oauth2 ? `oauth2:${s.auth.oauth2.clientId}` : 'none';
  return JSON.stringify([label, s.host, s.port, s.security, s.verifyCertificate, s.caFile, s.auth?.user ?? null, secret, s.timeoutMs, s.maxConnections]);
}

export type { OutboundRequest };
