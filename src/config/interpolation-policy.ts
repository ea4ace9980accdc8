// Where `${VAR}` may stand, read from the one schema: in secret fields (`x-secret`) and in the fields
// an operator sets per deployment (`x-interpolate`: hosts, ports, URLs, user names, file paths, the
// store path, the listen address). Anywhere else a placeholder is refused, so a company file cannot
// print another tenant's secret through a sender name, a subject or `explain`; and a variable that
// a secret field uses may not also stand in a non-secret field (it would be shown there). Pure.
import type { Problem, SourceLocation } from './problems.js';

export type FieldKind = 'secret' | 'operator' | 'refused';

export interface FieldPolicy {
  kind: FieldKind;
  /** An integer field (a port): a placeholder giving only digits becomes a number. */
  integer: boolean;
}

type SchemaNode = Record<string, unknown>;

const isNode = (v: unknown): v is SchemaNode => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The schema nodes a node stands for: itself, what it $refs, and its allOf/anyOf/oneOf branches. */
function expand(root: SchemaNode, node: SchemaNode, seen = new Set<SchemaNode>()): SchemaNode[] {
  if (seen.has(node)) return [];
  seen.add(node);
  const out = [node];
  const ref = node.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((n, k) => (isNode(n) ? n[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), root);
    if (isNode(target)) out.push(...expand(root, target, seen));
  }
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = node[k];
    if (Array.isArray(list)) for (const b of list) if (isNode(b)) out.push(...expand(root, b, seen));
  }
  return out;
}

/** The schema nodes that describe the value at `path` (data keys and array indexes). */
export function schemaNodesAt(root: SchemaNode, path: readonly (string | number)[]): SchemaNode[] {
  let nodes = expand(root, root);
  for (const seg of path) {
    const next: SchemaNode[] = [];
    for (const n of nodes) {
      const props = n.properties;
      const key = String(seg);
      if (n.type === 'array' || isNode(n.items)) {
        if (/^\d+$/.test(key) && isNode(n.items)) next.push(n.items);
        continue;
      }
      if (isNode(props) && isNode(props[key])) {
        next.push(props[key]);
        continue;
      }
      const pattern = n.patternProperties;
      let matched = false;
      if (isNode(pattern))
        for (const [re, s] of Object.entries(pattern))
          if (isNode(s) && new RegExp(re, 'u').test(key)) {
            next.push(s);
            matched = true;
          }
      if (!matched && isNode(n.additionalProperties)) next.push(n.additionalProperties);
    }
    nodes = next.flatMap((s) => expand(root, s));
    if (nodes.length === 0) break;
  }
  return nodes;
}

/** May `${VAR}` stand at `path`, and as what? (A path the schema does not know is refused.) */
export function fieldPolicy(root: SchemaNode, path: readonly (string | number)[]): FieldPolicy {
  const nodes = schemaNodesAt(root, path);
  const kind: FieldKind = nodes.some((n) => n['x-secret'] === true) ? 'secret' : nodes.some((n) => n['x-interpolate'] === true) ? 'operator' : 'refused';
  return { kind, integer: kind === 'operator' && nodes.some((n) => n.type === 'integer') };
}

/** Every property marked x-secret / x-interpolate in the schema, by name: what the error message lists. */
export function markedFields(root: SchemaNode): { secret: string[]; operator: string[]; nodes: { name: string; node: SchemaNode }[] } {
  const secret = new Set<string>();
  const operator = new Set<string>();
  const nodes: { name: string; node: SchemaNode }[] = [];
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (!isNode(n)) return;
    if (isNode(n.properties))
      for (const [name, p] of Object.entries(n.properties)) {
        if (!isNode(p)) continue;
        if (p['x-secret'] === true) secret.add(name);
        if (p['x-interpolate'] === true) {
          operator.add(name);
          nodes.push({ name, node: p });
        }
      }
    for (const v of Object.values(n)) visit(v);
  };
  visit(root);
  return { secret: [...secret].sort(), operator: [...operator].sort(), nodes };
}

/** "${VAR} is not allowed in companies.beta.outbound.from.name: interpolation is allowed only in …" */
export function refusedMessage(root: SchemaNode, vars: readonly string[], path: readonly (string | number)[]): string {
  const { secret, operator } = markedFields(root);
  const where = dottedPath(path) || '(top level)';
  const shown = vars.length ? vars.map((v) => `\${${v}}`).join(', ') : '${...}';
  return `${shown} is not allowed in ${where}: interpolation is allowed only in secret fields (${secret.join(', ')}) and in ${operator.join(', ')}`;
}

/** `companies.acme.contracts.main.inbound[0]`: how problems name a place (as validate-schema's pointerToDotted). */
export function dottedPath(path: readonly (string | number)[]): string {
  return path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('').replace(/^\./, '');
}

/** A JSON pointer's segments (`/companies/acme` → ['companies', 'acme']). */
function segmentsOf(ptr: string): string[] {
  return ptr === '' ? [] : ptr.slice(1).split('/').map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * A variable that a secret field uses, used again in a non-secret field anywhere in the config
 * (where it would be printed by `explain`, a From header, a URL in a log): one problem per such use.
 */
export function secretVariablesElsewhere(root: SchemaNode, locations: Iterable<[string, { vars?: string[]; value: SourceLocation }]>): Problem[] {
  const uses: { path: string[]; vars: string[]; value: SourceLocation; secret: boolean }[] = [];
  for (const [ptr, l] of locations) {
    if (!l.vars?.length) continue;
    const path = segmentsOf(ptr);
    uses.push({ path, vars: l.vars, value: l.value, secret: fieldPolicy(root, path).kind === 'secret' });
  }
  const secretAt = new Map<string, string>();
  for (const u of uses) if (u.secret) for (const v of u.vars) if (!secretAt.has(v)) secretAt.set(v, dottedPath(u.path));
  const problems: Problem[] = [];
  for (const u of uses) {
    if (u.secret) continue;
    for (const v of new Set(u.vars)) {
      const where = secretAt.get(v);
      if (where === undefined) continue;
      problems.push({ severity: 'error', message: `\${${v}} is used in the secret field ${where}, so it is not allowed in ${dottedPath(u.path)}, which is not secret (its value would be shown)`, ...u.value });
    }
  }
  return problems;
}
