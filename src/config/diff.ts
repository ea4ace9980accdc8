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
}

// Secrets are compared by a keyed fingerprint that exists only in this process: never printable.
const FINGERPRINT_KEY = randomBytes(32);

/** Stable JSON with sorted keys; Secret values become a keyed fingerprint. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, function (_k, v: unknown) {
    const raw = this && typeof this === 'object' ? (this as Record<string, unknown>)[_k] : v;
    if (raw instanceof Secret) return 'secret:' + createHmac('sha256', FINGERPRINT_KEY).update(raw.reveal()).digest('hex');
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map))
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
    if (v instanceof Map) return undefined;
    return v;
  });
}

function diffMaps(kind: EntityKind, before: Record<string, unknown>, after: Record<string, unknown>, out: EntityChange[]) {
  for (const id of Object.keys(before)) if (!(id in after)) out.push({ kind, id, change: 'removed' });
  for (const [id, v] of Object.entries(after)) {
    if (!(id in before)) out.push({ kind, id, change: 'added' });
    else if (canonical(before[id]) !== canonical(v)) out.push({ kind, id, change: 'changed' });
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
    out.push({ kind: 'server', id: 'listen', change: 'changed', restartRequired: true });
  if (canonical({ ...before.server, listen: null, limits: null, metricsListen: null }) !== canonical({ ...after.server, listen: null, limits: null, metricsListen: null }))
    out.push({ kind: 'server', id: 'api', change: 'changed' });
  if (canonical(before.store) !== canonical(after.store)) out.push({ kind: 'store', id: 'store', change: 'changed', restartRequired: true });
  return out;
}

export function formatChange(c: EntityChange): string {
  const sign = c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~';
  return `${sign} ${c.kind} ${c.id} ${c.change}${c.restartRequired ? ' (takes effect after a restart)' : ''}`;
}
