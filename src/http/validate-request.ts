// Why this file exists: every API input — query strings, path numbers, JSON bodies — is checked
// against a JSON Schema in schemas/api/ (ajv, strict) before a handler looks at it, and failures
// become one consistent 400: {"error": "invalid query: limit must be <= 500", "details": [{"field":
// "limit", "message": "must be <= 500"}]}. Also the body rules: 413 over 1 MiB, 415 unless JSON.
// Messages name the field and the rule, never echo the offending value (it might be a secret).
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readBody } from './server.js';

export interface FieldProblem {
  field: string;
  message: string;
}

/** An error the API answers with its own status and JSON body (never a 500). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: FieldProblem[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): { error: string; details?: FieldProblem[] } {
    return this.details.length > 0 ? { error: this.message, details: this.details } : { error: this.message };
  }
}

export type ApiSchemaName = 'list-tickets.query' | 'no-query' | 'article-path' | 'approve.body' | 'reject.body';

export const API_SCHEMA_DIR = new URL('../../schemas/api/', import.meta.url);
export const MAX_BODY_BYTES = 1024 * 1024;

interface PropertySchema {
  type?: string;
  [k: string]: unknown;
}

export interface ApiValidator {
  name: ApiSchemaName;
  schema: { properties?: Record<string, PropertySchema> };
  validate: ValidateFunction;
}

let ajv: Ajv2020 | undefined;
const validators = new Map<ApiSchemaName, ApiValidator>();

function newAjv(): Ajv2020 {
  // useDefaults fills in e.g. limit=50; verbose gives errors their parentSchema (for x-message).
  const a = new Ajv2020({ strict: true, allErrors: true, verbose: true, useDefaults: true });
  (addFormatsModule as unknown as (x: Ajv2020) => void)(a);
  a.addKeyword({ keyword: 'x-message', schemaType: 'string' });
  return a;
}

export function apiValidator(name: ApiSchemaName): ApiValidator {
  let v = validators.get(name);
  if (!v) {
    ajv ??= newAjv();
    const schema = JSON.parse(readFileSync(new URL(`${name}.json`, API_SCHEMA_DIR), 'utf8')) as ApiValidator['schema'];
    v = { name, schema, validate: ajv.compile(schema) };
    validators.set(name, v);
  }
  return v;
}

/** Printable, bounded version of a client-supplied name (a field or parameter name). */
export function safeName(s: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 61)}...` : clean;
}

function fieldOf(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

const A_OR_AN: Record<string, string> = { integer: 'an integer', object: 'an object', array: 'an array', string: 'a string', number: 'a number', boolean: 'a boolean', null: 'null' };

/** ajv errors → [{field, message}], one per distinct problem, in a stable order. */
export function describeErrors(errors: ErrorObject[] | null | undefined, v: ApiValidator, where: 'query' | 'body' | 'path'): FieldProblem[] {
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  const known = Object.keys(v.schema.properties ?? {});
  for (const e of errors ?? []) {
    const p = e.params as Record<string, unknown>;
    let field = fieldOf(e.instancePath);
    let message: string;
    switch (e.keyword) {
      case 'additionalProperties':
        field = [field, safeName(String(p['additionalProperty']))].filter(Boolean).join('.');
        message = `unknown ${where === 'query' ? 'parameter' : 'field'}` + (e.instancePath === '' ? (known.length ? ` (allowed: ${known.join(', ')})` : ' (none allowed)') : '');
        break;
      case 'required':
        field = [field, String(p['missingProperty'])].filter(Boolean).join('.');
        message = 'is required';
        break;
      case 'type':
        message = `must be ${A_OR_AN[String(p['type'])] ?? String(p['type'])}`;
        break;
      case 'enum':
        message = `must be one of ${(p['allowedValues'] as unknown[]).map(String).join(', ')}`;
        break;
      case 'pattern':
      case 'format':
      case 'minLength':
      case 'maxLength': {
        // A field's own wording (x-message in its schema) says what a valid value looks like.
        const custom = (e.parentSchema as PropertySchema | undefined)?.['x-message'];
        if (typeof custom === 'string') message = custom;
        else if (e.keyword === 'format') message = `must be a valid ${String(p['format'])}`;
        else if (e.keyword === 'pattern') message = 'has an invalid format';
        else message = e.message ?? `fails ${e.keyword}`;
        break;
      }
      default:
        message = e.message ?? `fails ${e.keyword}`;
    }
    if (field === '') field = where === 'body' ? '(body)' : '(query)';
    const key = `${field}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ field, message });
    }
  }
  return out;
}

function invalid(where: 'query' | 'body' | 'path', details: FieldProblem[]): ApiError {
  const summary = details.map((d) => `${d.field} ${d.message}`).join('; ');
  return new ApiError(400, `invalid ${where === 'path' ? 'path' : where === 'query' ? 'query' : 'request body'}: ${summary}`, details);
}

/** Turn strings into the schema's scalar types where they are unambiguous; leave the rest to ajv. */
function coerce(prop: PropertySchema | undefined, value: string): unknown {
  if (prop?.type === 'integer' && /^[+-]?\d{1,15}$/.test(value)) return Number(value);
  return value;
}

function check(v: ApiValidator, data: Record<string, unknown>, where: 'query' | 'body' | 'path'): Record<string, unknown> {
  if (!v.validate(data)) throw invalid(where, describeErrors(v.validate.errors, v, where));
  return data;
}

/** Query string → validated object (defaults applied). Repeated parameters are rejected. */
export function parseQuery(url: URL, v: ApiValidator): Record<string, unknown> {
  const data = Object.create(null) as Record<string, unknown>;
  const repeated: FieldProblem[] = [];
  for (const [k, value] of url.searchParams) {
    if (Object.prototype.hasOwnProperty.call(data, k)) {
      if (!repeated.some((r) => r.field === safeName(k))) repeated.push({ field: safeName(k), message: 'must be given at most once' });
      continue;
    }
    data[k] = coerce(v.schema.properties?.[k], value);
  }
  if (repeated.length > 0) {
    // Report unknown names too, so one round trip shows everything wrong.
    const rest = v.validate(data) ? [] : describeErrors(v.validate.errors, v, 'query');
    throw invalid('query', [...repeated, ...rest]);
  }
  return check(v, data, 'query');
}

/** Path parameters (already split out by the caller) → validated object. */
export function parsePath(params: Record<string, string>, v: ApiValidator): Record<string, unknown> {
  const data = Object.create(null) as Record<string, unknown>;
  for (const [k, value] of Object.entries(params)) data[k] = coerce(v.schema.properties?.[k], value);
  return check(v, data, 'path');
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl.trim() !== '0');
}

/**
 * Read and validate a JSON request body. No body (or an empty one) validates as `{}`. Any body must
 * be `application/json` (UTF-8) → else 415; over `limit` bytes → 413 (before reading, when declared).
 */
export async function readJsonBody(req: IncomingMessage, v: ApiValidator, limit = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  let raw = '';
  if (hasBody(req)) {
    const close = { connection: 'close' }; // the rest of the body is not read: do not reuse the connection
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw new ApiError(413, `request body too large (limit ${limit} bytes)`, [], close);
    const ct = (req.headers['content-type'] ?? '').toLowerCase();
    const [type = '', ...params] = ct.split(';').map((s) => s.trim());
    const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/^"|"$/g, '');
    if (type !== 'application/json') throw new ApiError(415, 'request body must be application/json', [], close);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw new ApiError(415, 'request body must be UTF-8 encoded JSON', [], close);
    let buf: Buffer;
    try {
      buf = await readBody(req, limit);
    } catch (e) {
      if ((e as { status?: number }).status === 413) throw new ApiError(413, `request body too large (limit ${limit} bytes)`, [], close);
      throw e;
    }
    try {
      raw = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch {
      throw new ApiError(400, 'request body is not valid UTF-8');
    }
  }
  let data: unknown = {};
  if (raw.trim() !== '') {
    try {
      data = JSON.parse(raw);
    } catch {
      // JSON.parse's message quotes the input: do not echo it.
      throw new ApiError(400, 'request body is not valid JSON');
    }
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw invalid('body', [{ field: '(body)', message: 'must be a JSON object' }]);
  }
  return check(v, data as Record<string, unknown>, 'body');
}
