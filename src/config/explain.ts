// `mailroom explain`: the effective settings a message or a mailbox would use, each field with the
// layer and file:line it came from. Secrets print as <redacted> (Secret's own toString).
import { inboundField } from './inbound-layers.js';
import { locate } from './merge.js';
import { decideOutbound, MAILBOX_LAYER_RULE, type OutboundRequest } from './outbound-layers.js';
import { apiPresetFor, isApiProtocol, presetFor } from './presets.js';
import { REDACTED, Secret } from './secret.js';
import type { Snapshot } from './snapshot.js';
import { pointer } from './yaml-file.js';

export interface ExplainedField {
  field: string;
  value: string;
  layer: string;
  at: string | null;
}

export interface Explanation {
  title: string;
  trail: string[];
  result: string;
  fields: ExplainedField[];
  /** Rules worth stating under the result (printed as `  rule: ...`). */
  rules?: string[];
}

const show = (v: unknown): string => (v instanceof Secret ? REDACTED : typeof v === 'string' ? v : JSON.stringify(v));
const where = (l: { file: string; line: number; col: number } | undefined) => (l ? `${l.file}:${l.line}` : null);

export function explainOutbound(snap: Snapshot, req: OutboundRequest): Explanation {
  const d = decideOutbound(snap.config, snap.locations, req);
  const fields = [...d.fields.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([field, f]) => ({ field, value: /password$|secret$|token$/i.test(field) ? REDACTED : show(f.value), layer: f.layer, at: where(f.loc) }));
  const what = [req.company && `company ${req.company}`, req.contract && `contract ${req.contract}`, req.workflow && `workflow ${req.workflow}`, req.mailbox && `mailbox ${req.mailbox}`]
    .filter(Boolean)
    .join(', ');
  // The API refuses (422) and the outbox holds back mail for a disabled mailbox: say so here.
  const disabled = d.mailbox !== null && snap.mailboxes[d.mailbox]?.enabled === false;
  return {
    title: `outbound (${req.kind ?? 'user'} mail) for ${what || 'the platform'}`,
    trail: d.trail,
    rules: [MAILBOX_LAYER_RULE],
    result: d.mailbox
      ? `sends through mailbox ${d.mailbox}${disabled ? ` — which is DISABLED (enabled: false): the API refuses such mail (422) and queued mail waits until it is enabled` : ''}`
      : 'sends through the global default server',
    fields,
  };
}

/** The companies that define a contract. Contracts are not inherited through `extends`: a branch
 * asked about its headquarters' contract is told whose it is. */
export function contractOwners(snap: Snapshot, contract: string): string[] {
  return Object.keys(snap.companies).filter((c) => contract in (snap.companies[c]?.contracts ?? {}));
}

/** Inbound fields that mean nothing over POP3 (explain leaves them out there). */
const IMAP_ONLY = new Set(['folder', 'idle', 'moveTo']);

export function explainMailbox(snap: Snapshot, id: string): Explanation | null {
  const mb = snap.mailboxes[id];
  const raw = snap.config.mailboxes?.[id];
  if (!mb || !raw) return null;
  const fields: ExplainedField[] = [];
  const inbound = mb.inbound;
  if (inbound) {
    const api = isApiProtocol(inbound.protocol) ? inbound.protocol : null;
    const preset = api ? (apiPresetFor(mb.provider, api) ? { apiUrl: true } : undefined) : presetFor(mb.provider ?? undefined)?.[inbound.protocol as 'imap' | 'pop3'];
    const rawIn = (raw.inbound ?? {}) as Record<string, unknown>;
    const defaultsIn = (snap.config.defaults?.inbound ?? {}) as Record<string, unknown>;
    const rename: Record<string, string> = { pollIntervalMs: 'pollInterval' };
    for (const [k, v] of Object.entries(inbound)) {
      const key = rename[k] ?? k;
      if (inbound.protocol === 'pop3' && IMAP_ONLY.has(key)) continue; // POP3 has one mailbox, no folders, no IDLE
      if (api && ['host', 'port', 'security', 'verifyCertificate', 'caFile', 'idle'].includes(key)) continue; // no socket of its own
      let layer = 'built-in default';
      let at = null;
      if (key === 'apiUrl' && api && raw.apiUrl !== undefined) {
        layer = `mailbox ${id}`;
        at = where(locate(snap.locations, pointer(['mailboxes', id, 'apiUrl'])));
      } else if (key === 'apiUrl' && !api) continue;
      else if (key in rawIn) {
        layer = `mailbox ${id}`;
        at = where(locate(snap.locations, pointer(['mailboxes', id, 'inbound', key])));
      } else if (key in defaultsIn) {
        const f = key === 'afterFetch' ? inboundField('afterFetch', { protocol: inbound.protocol }, snap.config.defaults?.inbound) : null;
        // The resolver turns an inherited seen/move into keep over POP3: the default did not give this value.
        layer = f?.layer === 'pop3-fallback' ? `POP3 fallback: defaults.inbound.afterFetch ${show(f.overridden)} is not possible over POP3` : 'defaults.inbound';
        at = where(locate(snap.locations, pointer(['defaults', 'inbound', key])));
      } else if (preset && key in preset) {
        layer = `preset ${mb.provider}`;
        at = where(locate(snap.locations, pointer(['mailboxes', id, 'provider'])));
      }
      fields.push({ field: `inbound.${key}`, value: show(key === 'pollInterval' ? `${Number(v) / 1000}s` : v), layer, at });
    }
  }
  if (mb.auth) {
    fields.push({ field: 'auth.user', value: mb.auth.user, layer: `mailbox ${id}`, at: where(locate(snap.locations, pointer(['mailboxes', id, 'auth', 'user']))) });
    const kind = mb.auth.oauth2 ? `oauth2 ${mb.auth.oauth2.flow}` : mb.auth.password?.kind === 'file' ? `password from file ${mb.auth.password.path}` : mb.auth.password ? `password ${REDACTED}` : 'none';
    fields.push({ field: 'auth.method', value: kind, layer: `mailbox ${id}`, at: where(locate(snap.locations, pointer(['mailboxes', id, 'auth']), true)) });
  }
  const owners = mb.owners.map((o) => `${o.company}/${o.contract}`);
  return {
    title: `mailbox ${id}${mb.enabled ? '' : ' (disabled)'}`,
    trail: owners.length ? [`read for ${owners.join(', ')}`] : ['no contract reads this mailbox'],
    result: inbound
      ? isApiProtocol(inbound.protocol)
        ? `${inbound.protocol} ${inbound.apiUrl ?? '(no API URL)'} folder ${inbound.folder}`
        : `${inbound.protocol} ${inbound.security} ${inbound.host}:${inbound.port}${inbound.protocol === 'imap' ? ` folder ${inbound.folder}` : ''}`
      : 'no inbound side',
    fields,
  };
}

export function formatExplanation(e: Explanation): string {
  const w = Math.max(...e.fields.map((f) => f.field.length), 5);
  const v = Math.min(Math.max(...e.fields.map((f) => f.value.length), 5), 48);
  const lines = [e.title, ...e.trail.map((t) => `  · ${t}`), `  = ${e.result}`, ...(e.rules ?? []).map((r) => `  rule: ${r}`), ''];
  for (const f of e.fields) lines.push(`  ${f.field.padEnd(w)}  ${f.value.padEnd(v)}  ${f.layer}${f.at ? ` (${f.at})` : ''}`);
  return lines.join('\n');
}
