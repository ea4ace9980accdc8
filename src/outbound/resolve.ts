// Which server and identity an outbound message uses: a thin wrapper over the pure decideOutbound
// (src/config/outbound-layers.ts), which `mailroom explain` prints too, so explain and the sender
// agree by construction. Pure.
import { createHash } from 'node:crypto';
import { decideOutbound, type OutboundDecision, type OutboundFields, type OutboundRequest } from '../config/outbound-layers.js';
import { own } from '../config/id-map.js';
import { mailboxOwners, maySendThrough } from '../config/mailbox-ownership.js';
import { apiSendDefault, outboundFromFields } from '../config/resolve.js';
import type { ResolvedOutbound, Snapshot } from '../config/snapshot.js';
import { parseDuration } from '../config/duration.js';
import { schemaDefault } from '../config/schema-defaults.js';

/** The SMTP timeout is never below 10 s (the config check rejects less; this guards the code path). */
export const MIN_TIMEOUT_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = parseDuration(schemaDefault<string>('OutboundFields', 'timeout'));

export interface SenderResolution {
  decision: OutboundDecision;
  /** null: no layer gives an SMTP host (nothing can send this). */
  server: ResolvedOutbound | null;
  /**
   * Metric/log/suspension label: the mailbox id, `default` for the global default server, or
   * `company:<id>` for a company's own server given by field overrides (not a mailbox): its
   * failures must not count against, or suspend, the global default everyone else sends through.
   */
  label: string;
}

/** decideOutbound's flat fields as a server (the conversion the snapshot uses for mailboxes too). */
export function serverFromFields(fields: OutboundFields, mailbox: string | null, snap: Snapshot): ResolvedOutbound | null {
  const raw = mailbox ? snap.config.mailboxes?.[mailbox] : undefined;
  return outboundFromFields(fields, mailbox, mailbox ? (snap.mailboxes[mailbox]?.provider ?? undefined) : undefined, raw?.apiUrl, apiSendDefault(raw));
}

export function resolveSender(snap: Snapshot, req: OutboundRequest): SenderResolution {
  const decision = decideOutbound(snap.config, snap.locations, req);
  const server = serverFromFields(decision.fields, decision.mailbox, snap);
  if (server) server.timeoutMs = effectiveTimeout(server.timeoutMs);
  return { decision, server, label: senderLabel(snap, req, decision.mailbox, server) };
}

function senderLabel(snap: Snapshot, req: OutboundRequest, mailbox: string | null, server: ResolvedOutbound | null): string {
  if (mailbox) return mailbox;
  const d = snap.defaultOutbound;
  const same = !server || (d !== null && server.host === d.host && server.port === d.port && (server.auth?.user ?? null) === (d.auth?.user ?? null));
  return same || !req.company ? 'default' : `company:${req.company}`;
}

/**
 * The mailbox a ticket's own mail (acknowledgement, reply) goes through when the caller names none:
 * null when the ticket's contract has an outbound mailbox (the resolver picks that one), else the
 * mailbox the ticket's request came in on when it can send, so the customer's answer comes back to
 * a mailbox mailroom reads (the global default's address may be one nobody reads). Pure.
 */
export function ticketMailbox(snap: Snapshot, company: string, contract: string | null, inboundMailbox: string | null): string | null {
  const k = contract ? own(own(snap.companies, company)?.contracts, contract) : undefined;
  if (k?.outbound) return null;
  return inboundMailbox && own(snap.mailboxes, inboundMailbox)?.outbound ? inboundMailbox : null;
}

/**
 * Why mail of `company` may not leave through the mailbox a resolution chose (a workflow, or a
 * company's extends, naming a mailbox that belongs only to other companies), or null when it may:
 * the global default, a platform mailbox, the company's own or a shared one (mailbox-ownership.ts). Pure.
 */
export function foreignMailbox(snap: Snapshot, company: string, decision: OutboundDecision): string | null {
  const mailbox = decision.mailbox;
  if (maySendThrough(snap.config, company, mailbox)) return null;
  const owners = mailboxOwners(snap.config).get(mailbox!) ?? [];
  const via = [...decision.trail].reverse().find((t) => t.endsWith(`→ mailbox ${mailbox}`))?.split(' → ')[0];
  return `mailbox ${mailbox}${via ? ` (chosen by ${via})` : ''} belongs to company ${owners.join(', ')}: mail of company ${company} may not be sent through it`;
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

/** A changed OAuth2 grant (secret, refresh token, scope ...) in config gets a new pool (hashed: never shown). */
function oauth2Key(o: NonNullable<NonNullable<ResolvedOutbound['auth']>['oauth2']>): string {
  const src = (x: typeof o.clientSecret) => (x ? (x.kind === 'file' ? `file:${x.path}` : `value:${x.secret.reveal()}`) : null);
  return createHash('sha256').update(JSON.stringify([o.flow, o.tenantId, o.clientId, o.tokenUrl, o.scope, src(o.clientSecret), src(o.refreshToken)])).digest('hex').slice(0, 16);
}

function computeKey(label: string, s: ResolvedOutbound): string {
  const pw = s.auth?.password;
  // A hash (never shown anywhere) so that a changed inline password gets a new pool.
  const secret = pw ? (pw.kind === 'file' ? `file:${pw.path}` : `value:${createHash('sha256').update(pw.secret.reveal()).digest('hex').slice(0, 16)}`) : s.auth?.oauth2 ? `oauth2:${oauth2Key(s.auth.oauth2)}` : 'none';
  return JSON.stringify([label, s.host, s.port, s.security, s.verifyCertificate, s.caFile, s.auth?.user ?? null, secret, s.timeoutMs, s.maxConnections]);
}

export type { OutboundRequest };
