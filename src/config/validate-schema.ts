// Runs the schema over the merged config and turns ajv's errors into located, readable problems.
import { configValidator, loadSchema, type ErrorObject } from './schema.js';
import { suggest } from './semantic.js';
import { locate } from './merge.js';
import type { Problem } from './problems.js';
import type { NodeLocation } from './yaml-file.js';

export const MISSING_VERSION = 'no file sets version: 1 — is this the right directory?';

export function pointerToDotted(ptr: string): string {
  return ptr
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('')
    .replace(/^\./, '');
}

function describe(e: ErrorObject): { ptr: string; message: string; preferKey: boolean } {
  const ptr = e.instancePath;
  const at = pointerToDotted(ptr) || '(top level)';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const prop = String(p.additionalProperty ?? p.unevaluatedProperty);
      return { ptr: `${ptr}/${prop.replace(/~/g, '~0').replace(/\//g, '~1')}`, message: `${at}: unknown field "${prop}"${suggest(prop, knownFields(e.parentSchema))}`, preferKey: true };
    }
    case 'required':
      // Only at the top level: a directory with no `version` is most likely not a mailroom config
      // (an emptied or wrong directory would otherwise be a valid config that runs nothing).
      if (ptr === '' && p.missingProperty === 'version') return { ptr, message: MISSING_VERSION, preferKey: true };
      return { ptr, message: `${at}: missing required field "${String(p.missingProperty)}"`, preferKey: true };
    case 'enum':
      return { ptr, message: `${at}: must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`, preferKey: false };
    case 'const':
      return { ptr, message: `${at}: must be ${JSON.stringify(p.allowedValue)}`, preferKey: false };
    case 'type':
      return { ptr, message: `${at}: must be ${String(p.type)}`, preferKey: false };
    case 'format':
      return { ptr, message: `${at}: must be a valid ${String(p.format)}`, preferKey: false };
    case 'propertyNames':
      return { ptr: `${ptr}/${String(p.propertyName)}`, message: `${at}: invalid name "${String(p.propertyName)}"`, preferKey: true };
    case 'pattern':
      return { ptr, message: `${at}: ${friendlyPattern(String(p.pattern), e.data)}`, preferKey: false };
    case 'not':
      // store: fields of one driver given with the other
      if (ptr.startsWith('/store/'))
        return { ptr, message: `${at}: not allowed with this store.driver (path is for lowdb; url, urlFile, schema, pool, leaseTtl, ssl for postgres)`, preferKey: true };
      return { ptr, message: `${at}: not allowed here`, preferKey: true };
    case 'oneOf':
      if (ptr === '/store') return { ptr, message: 'store: driver postgres needs exactly one of url or urlFile', preferKey: true };
      return { ptr, message: `${at}: ${e.message ?? 'must match exactly one allowed form'}`, preferKey: false };
    default:
      return { ptr, message: `${at}: ${e.message ?? e.keyword}`, preferKey: false };
  }
}

/** The property names allowed where an additional/unevaluated property was found (for "did you mean"). */
function knownFields(parentSchema: unknown): string[] {
  const root = loadSchema();
  const resolve = (node: unknown): Record<string, unknown> | undefined => {
    const n = node as Record<string, unknown> | undefined;
    if (typeof n?.$ref !== 'string') return n;
    const name = n.$ref.replace(/^#\/\$defs\//, '');
    return resolve((root.$defs as Record<string, unknown>)[name]);
  };
  const names = new Set<string>();
  const collect = (node: Record<string, unknown> | undefined) => {
    for (const k of Object.keys((node?.properties as object | undefined) ?? {})) names.add(k);
    for (const sub of (node?.allOf as unknown[] | undefined) ?? []) collect(resolve(sub));
  };
  collect(resolve(parentSchema));
  return [...names];
}

/** Ids the schema's Id pattern refuses although they are well-formed: members of every JS object. */
const RESERVED_ID = /^(?:constructor|hasOwnProperty|isPrototypeOf|propertyIsEnumerable|toLocaleString|toString|valueOf)$/;

function friendlyPattern(pattern: string, value?: unknown): string {
  if (pattern.includes('(ms|s|m|h|d)')) return 'must be a duration such as 30s, 5m, 2h';
  if (pattern.includes('KiB')) return 'must be a size such as 512KB or 25MB';
  if (pattern.includes('[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')) {
    if (typeof value === 'string' && RESERVED_ID.test(value)) return `"${value}" is reserved (the name of a member of every JavaScript object): choose another id`;
    return 'must be an id (letters, digits, -, _, .)';
  }
  if (pattern.startsWith('^(store|webhook:')) return 'must be "store" or "webhook:<id>"';
  if (pattern.startsWith('^https?://')) return 'must be an http(s) URL';
  return `must match ${pattern}`;
}

export function validateSchema(data: unknown, locations: Map<string, NodeLocation>): Problem[] {
  const validate = configValidator();
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  // anyOf / propertyNames produce one error per failed branch plus a summary: keep the most specific.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  // oneOf: its summary says what is wanted; the branches' own errors are noise.
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.schemaPath.replace(/\/oneOf$/, '/oneOf/')));
  // A value failing both `format` and `pattern` (a webhook url) gets the pattern's friendlier message only.
  const patternPaths = new Set(errors.filter((e) => e.keyword === 'pattern' && e.propertyName === undefined).map((e) => e.instancePath));
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'allOf') continue;
    if (e.keyword === 'propertyNames') continue; // the inner pattern error carries the propertyName
    if (anyOfPaths.has(e.instancePath) && e.keyword !== 'anyOf') continue;
    if ([...oneOfPaths].some((b) => e.schemaPath.startsWith(b))) continue;
    if (e.keyword === 'format' && patternPaths.has(e.instancePath)) continue;
    let d = describe(e);
    if (e.keyword === 'anyOf') d = { ...d, message: `${pointerToDotted(e.instancePath)}: ${anyOfHint(e)}` };
    if (e.keyword === 'pattern' && e.propertyName !== undefined) {
      const why = friendlyPattern(String((e.params as { pattern: string }).pattern), e.propertyName);
      const message = why.startsWith('"') ? why : `invalid name "${e.propertyName}" (${why})`;
      d = { ptr: `${e.instancePath}/${e.propertyName}`, message: `${pointerToDotted(e.instancePath) || '(top level)'}: ${message}`, preferKey: true };
    }
    if (e.keyword === 'type' && locations.get(d.ptr)?.fromEnv)
      d = { ...d, message: `${d.message} (a \${VAR} placeholder always gives a string)` };
    const key = `${d.ptr}\u0000${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ severity: 'error', message: d.message, path: pointerToDotted(d.ptr), ...locate(locations, d.ptr, d.preferKey) });
  }
  return problems;
}

function anyOfHint(e: ErrorObject): string {
  const ref = String(e.schemaPath);
  if (ref.includes('Size')) return 'must be a size such as 512KB or 25MB (or a number of bytes)';
  if (ref.includes('mailbox')) return 'must be a mailbox id or a list of mailbox ids';
  return 'does not match any allowed form';
}
