// Which settings an outbound message uses, field by field, with the layer and file:line each came
// from. One pure function serves the sender (src/outbound) and `mailroom explain`, so they agree.
//
// Precedence (highest first): explicit mailbox → workflow → contract → company (after extends) →
// global default. A layer that names a mailbox replaces the server and identity below it (host,
// port, security, certificate, auth, from, sendAs) with that mailbox's, as one unit: credentials
// belong to their server. The sending policy (POLICY_FIELDS: timeout, batchWindow, maxPerMinute,
// maxConnections) is inherited field by field from the layers below unless the mailbox sets it, so a
// global `batchWindow: 2s` or a company's `timeout: 90s` still applies to a contract's mailbox.
// A company's field overrides (e.g. only `from.name`) then apply on top of its pick.
import { own } from './id-map.js';
import { locate } from './merge.js';
import { parseDuration } from './duration.js';
import type { SourceLocation } from './problems.js';
import { presetFor } from './presets.js';
import { defaultPort } from './presets.js';
import { schemaDefault } from './schema-defaults.js';
import type { Secret } from './secret.js';
import type { MailroomConfig, OutboundServer } from './types.generated.js';
import { pointer, type NodeLocation } from './yaml-file.js';

export interface FieldOrigin {
  value: unknown;
  layer: string;
  loc?: SourceLocation;
}

export type OutboundFields = Map<string, FieldOrigin>;

export interface OutboundRequest {
  company?: string;
  contract?: string;
  workflow?: string;
  mailbox?: string;
  kind?: 'user' | 'system';
}

export interface OutboundDecision {
  /** The mailbox whose server sends; null = the global default server. */
  mailbox: string | null;
  fields: OutboundFields;
  /** Human-readable steps of the decision, for explain and logs. */
  trail: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !isSecret(v);
const isSecret = (v: unknown): v is Secret => typeof v === 'object' && v !== null && (v as object).constructor?.name === 'Secret';

/** Flatten an OutboundServer-like object into dotted fields with their origins. */
function apply(fields: OutboundFields, obj: unknown, layer: string, ptrBase: (string | number)[], locations: Map<string, NodeLocation>, skip: string[] = []) {
  const walk = (v: unknown, keys: string[]) => {
    if (isObj(v)) {
      for (const [k, child] of Object.entries(v)) if (!(keys.length === 0 && skip.includes(k))) walk(child, [...keys, k]);
      return;
    }
    const name = keys.join('.');
    // A password replaces oauth2 and the other way round.
    if (name.startsWith('auth.password')) for (const f of [...fields.keys()]) if (f.startsWith('auth.oauth2.')) fields.delete(f);
    if (name.startsWith('auth.oauth2.')) for (const f of ['auth.password', 'auth.passwordFile']) fields.delete(f);
    if (name === 'auth.password') fields.delete('auth.passwordFile');
    if (name === 'auth.passwordFile') fields.delete('auth.password');
    fields.set(name, { value: v, layer, loc: locate(locations, pointer([...ptrBase, ...keys])) });
  };
  // A preset's port belongs to the preset's security: overriding only the security (gmail with
  // starttls) must not keep port 465, so the port falls back to the built-in default for it.
  const presetPort = fields.get('port')?.layer.startsWith('preset ');
  const securityBefore = fields.get('security')?.value;
  walk(obj, []);
  if (presetPort && isObj(obj) && obj.security !== undefined && obj.security !== securityBefore && obj.port === undefined) fields.delete('port');
}

/** Replace everything with a mailbox's own sending settings (preset, mailbox auth, mailbox outbound). */
function pickMailbox(cfg: MailroomConfig, locations: Map<string, NodeLocation>, id: string, via: string): OutboundFields {
  const fields: OutboundFields = new Map();
  const mb = own(cfg.mailboxes, id);
  if (!mb) return fields;
  const smtp = presetFor(mb.provider)?.smtp;
  if (smtp) {
    const layer = `preset ${mb.provider} (${via})`;
    for (const [k, v] of Object.entries(smtp)) fields.set(k, { value: v, layer, loc: locate(locations, pointer(['mailboxes', id, 'provider'])) });
  }
  if (mb.auth) apply(fields, { auth: mb.auth }, `mailbox ${id} (${via})`, ['mailboxes', id], locations);
  if (mb.address) fields.set('from.address', { value: mb.address, layer: `mailbox ${id} (${via})`, loc: locate(locations, pointer(['mailboxes', id, 'address'])) });
  apply(fields, mb.outbound ?? {}, `mailbox ${id} (${via})`, ['mailboxes', id, 'outbound'], locations);
  return fields;
}

/** Fields of the sending policy: inherited field by field, also under a layer that names a mailbox. */
export const POLICY_FIELDS = ['timeout', 'batchWindow', 'maxPerMinute', 'maxConnections'] as const;

/** The rule as explain and the docs state it. */
export const MAILBOX_LAYER_RULE = 'a layer that names a mailbox replaces the server and identity below it; the sending policy (timeout, batchWindow, maxPerMinute, maxConnections) it does not set is inherited from the layers below';

export function companyChain(cfg: MailroomConfig, company: string): string[] {
  const chain: string[] = [];
  for (let cur: string | undefined = company; cur && own(cfg.companies, cur) && !chain.includes(cur); cur = own(cfg.companies, cur)?.extends) chain.unshift(cur);
  return chain;
}

export function decideOutbound(cfg: MailroomConfig, locations: Map<string, NodeLocation>, req: OutboundRequest): OutboundDecision {
  const trail: string[] = [];
  let fields: OutboundFields = new Map();
  let mailbox: string | null = null;
  const pick = (id: string, via: string) => {
    const below = fields;
    fields = pickMailbox(cfg, locations, id, via);
    mailbox = id;
    const kept = POLICY_FIELDS.filter((f) => below.has(f) && !fields.has(f));
    for (const f of kept) fields.set(f, below.get(f)!);
    trail.push(`${via} → mailbox ${id}${kept.length ? ` (server and identity; keeps ${kept.join(', ')} from below)` : ''}`);
  };
  const globalDefault = () => {
    fields = new Map();
    mailbox = null;
    if (cfg.defaults?.outbound) apply(fields, cfg.defaults.outbound, 'global default', ['defaults', 'outbound'], locations);
  };

  globalDefault();
  trail.push(cfg.defaults?.outbound ? 'global default (defaults.outbound)' : 'no global default configured');

  for (const cid of req.company ? companyChain(cfg, req.company) : []) {
    const o = cfg.companies?.[cid]?.outbound as (OutboundServer & { mailbox?: string }) | undefined;
    if (!o) continue;
    const via = cid === req.company ? `company ${cid}` : `company ${cid} (inherited by ${req.company})`;
    if (o.mailbox) pick(o.mailbox, via);
    const overrides = Object.keys(o).filter((k) => k !== 'mailbox');
    if (overrides.length > 0) {
      // Credentials belong to their server: a company that points at another host without its own
      // `auth` must not send the layer below's user and password to that host.
      if (o.host !== undefined && o.host !== fields.get('host')?.value && o.auth === undefined && [...fields.keys()].some((f) => f.startsWith('auth.'))) {
        for (const f of [...fields.keys()]) if (f.startsWith('auth.')) fields.delete(f);
        trail.push(`${via} sets another host without auth: the credentials of the layer below are not sent to it`);
      }
      apply(fields, o, via, ['companies', cid, 'outbound'], locations, ['mailbox']);
      trail.push(`${via} overrides ${overrides.join(', ')}`);
    }
  }

  const kind = req.kind ?? 'user';
  const contract = req.company && req.contract ? own(own(cfg.companies, req.company)?.contracts, req.contract) : undefined;
  if (kind === 'system') trail.push('kind: system skips contract and workflow mailboxes');
  else {
    if (contract?.outbound) pick(contract.outbound, `contract ${req.contract}`);
    const wf = req.workflow ? own(cfg.workflows, req.workflow) : undefined;
    if (wf?.outbound === 'default') {
      globalDefault();
      trail.push(`workflow ${req.workflow} → global default`);
    } else if (wf?.outbound === 'contract') {
      if (contract?.outbound) trail.push(`workflow ${req.workflow} → contract mailbox`);
      else trail.push(`workflow ${req.workflow} asks for the contract mailbox, none set: kept the layer below`);
    } else if (wf?.outbound) pick(wf.outbound, `workflow ${req.workflow}`);
  }
  if (req.mailbox) pick(req.mailbox, 'explicit mailbox');
  fillBuiltIns(fields);
  return { mailbox, fields, trail };
}

/** Built-in defaults (the schema's `default`s) for whatever no layer set. */
export function fillBuiltIns(fields: OutboundFields): void {
  const set = (k: string, v: unknown) => {
    if (!fields.has(k)) fields.set(k, { value: v, layer: 'built-in default' });
  };
  for (const k of ['security', 'verifyCertificate', 'sendAs', 'timeout', 'batchWindow', 'maxConnections']) set(k, schemaDefault('OutboundFields', k));
  set('port', defaultPort('smtp', fields.get('security')!.value as 'tls' | 'starttls' | 'none'));
}

/** Numbers the sender needs, from the flat fields. */
export function fieldMs(fields: OutboundFields, name: string): number {
  return parseDuration(String(fields.get(name)?.value ?? '0s'));
}
