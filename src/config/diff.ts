// What changed between two snapshots, per entity: the same diff `mailroom diff` prints and the
// daemon uses on reload to restart only the pieces that changed. Pure.
import { createHmac, randomBytes } from 'node:crypto';
import { Secret } from './secret.js';
import type { Snapshot } from './snapshot.js';

export type EntityKind = 'mailbox' | 'company' | 'contract' | 'route' | 'webhook' | 'workflow' | 'schedule' | 'defaults' | 'server' | 'store';

export interface EntityChange {
  kind: EntityKind;
  id: string;
  change: 'added' | 'changed' | 'removed';
  /** Changing it takes a restart (listen address, store path). */
  restartRequired?: boolean;
  /** For `changed`: the paths of the fields that differ (`outbound.batchWindow`, `routes.2`), sorted. */
  fields?: string[];
}

// Secrets are compared by a keyed fingerprint that exists only in this process: never printable.
const FINGERPRINT_KEY = randomBytes(32);

// A snapshot is deep-frozen: the canonical form of a frozen object never changes, so it is computed
// once. A reload then pays for the new snapshot's entities only, not the running one's again.
const canonicalOfFrozen = new WeakMap<object, string>();
const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

/** Stable JSON with sorted keys; Secret values become a keyed fingerprint. */
export function canonical(value: unknown): string {
  const memo = value !== null && typeof value === 'object' && Object.isFrozen(value);
  if (memo) {
    const known = canonicalOfFrozen.get(value);
    if (known !== undefined) return known;
  }
  const text = JSON.stringify(value, function (_k, v: unknown) {
    const raw = this && typeof this === 'object' ? (this as Record<string, unknown>)[_k] : v;
    if (raw instanceof Secret) return 'secret:' + createHmac('sha256', FINGERPRINT_KEY).update(raw.reveal()).digest('hex');
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map)) return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(byKey));
    if (v instanceof Map) return undefined;
    return v;
  });
  if (memo) canonicalOfFrozen.set(value, text);
  return text;
}

/**
 * The paths at which two values differ (pure): objects are walked key by key, arrays element by
 * element while their lengths agree (else the array's own path). Compared as `canonical` sees them,
 * so a secret is compared by fingerprint and only its path is ever named.
 */
export function changedPaths(before: unknown, after: unknown): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
    if (!bothObjects || (Array.isArray(a) && a.length !== (b as unknown[]).length) || isSecretSource(a) || isSecretSource(b)) {
      out.push(path || '(all)');
      return;
    }
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
  };
  walk(JSON.parse(canonical(before) ?? 'null'), JSON.parse(canonical(after) ?? 'null'), '');
  return out.sort();
}

/** A SecretSource after `canonical` ({kind: 'value', secret} or {kind: 'file', path}): named as one field. */
function isSecretSource(v: unknown): boolean {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return (o.kind === 'value' || o.kind === 'file') && Object.keys(o).every((k) => k === 'kind' || k === 'secret' || k === 'path');
}

function diffMaps(kind: EntityKind, before: Record<string, unknown>, after: Record<string, unknown>, out: EntityChange[]) {
  for (const id of Object.keys(before)) if (!(id in after)) out.push({ kind, id, change: 'removed' });
  for (const [id, v] of Object.entries(after)) {
    if (!(id in before)) out.push({ kind, id, change: 'added' });
    else if (before[id] !== v && canonical(before[id]) !== canonical(v)) out.push({ kind, id, change: 'changed', fields: changedPaths(before[id], v) });
  }
}

export function diffSnapshots(before: Snapshot, after: Snapshot): EntityChange[] {
  const out: EntityChange[] = [];
  diffMaps('mailbox', before.mailboxes, after.mailboxes, out);
  const companyOnly = (s: Snapshot) =>
    Object.fromEntries(Object.entries(s.companies).map(([id, c]) => [id, { ...c, contracts: Object.keys(c.contracts), outbound: s.config.companies?.[id]?.outbound }]));
  diffMaps('company', companyOnly(before), companyOnly(after), out);
  const contracts = (s: Snapshot) =>
    Object.fromEntries(Object.values(s.companies).flatMap((c) => Object.values(c.contracts).map((k) => [`${c.id}/${k.id}`, k])));
  diffMaps('contract', contracts(before), contracts(after), out);
  const routes = (s: Snapshot) => Object.fromEntries(s.routes.map((r, i) => [r.name, { ...r, position: i }]));
  diffMaps('route', routes(before), routes(after), out);
  diffMaps('webhook', before.webhooks, after.webhooks, out);
  diffMaps('workflow', before.workflows, after.workflows, out);
  diffMaps('schedule', before.schedules, after.schedules, out);
  diffMaps('defaults', { defaults: before.config.defaults ?? {} }, { defaults: after.config.defaults ?? {} }, out);
  // The listeners' address and limits are set when they start.
  const listeners = (s: Snapshot['server']) => ({ listen: s.listen, limits: s.limits, metricsListen: s.metricsListen });
  if (canonical(listeners(before.server)) !== canonical(listeners(after.server)))
    out.push({ kind: 'server', id: 'listen', change: 'changed', restartRequired: true, fields: changedPaths(listeners(before.server), listeners(after.server)) });
  const api = (s: Snapshot) => ({ ...s.server, listen: undefined, limits: undefined, metricsListen: undefined });
  if (canonical(api(before)) !== canonical(api(after))) out.push({ kind: 'server', id: 'api', change: 'changed', fields: changedPaths(api(before), api(after)) });
  if (canonical(before.store) !== canonical(after.store))
    out.push({ kind: 'store', id: 'store', change: 'changed', restartRequired: true, fields: changedPaths(before.store, after.store) });
  return out;
}

/** One line per change: `~ mailbox acme-desk changed: inbound.pollIntervalMs`, `~ defaults changed: outbound.timeout`. */
export function formatChange(c: EntityChange): string {
  const sign = c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~';
  const what = c.id === c.kind ? c.kind : `${c.kind} ${c.id}`;
  const fields = c.fields?.length ? `: ${c.fields.join(', ')}` : '';
  return `${sign} ${what} ${c.change}${fields}${c.restartRequired ? ' (takes effect after a restart)' : ''}`;
}
