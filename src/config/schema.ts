// Loads the one JSON Schema (schemas/mailroom.schema.json) and compiles it with ajv in strict mode.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

export const SCHEMA_URL = new URL('../../schemas/mailroom.schema.json', import.meta.url);

let cached: { schema: Record<string, unknown>; validate: ValidateFunction } | undefined;

export function loadSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as Record<string, unknown>;
}

/**
 * ajv for the schema, which has three keywords of its own: `x-secret` (the value is wrapped in Secret
 * and never printed), `x-interpolate` (the field may hold `${VAR}`; interpolation-policy.ts) and
 * `x-default` (for the docs: what applies when a field without a fixed `default` is left out).
 */
export function newAjv(): Ajv2020 {
  // verbose: errors carry their parentSchema, so "unknown field" can suggest the field that was meant.
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true, verbose: true });
  const addFormats = addFormatsModule as unknown as (a: Ajv2020) => void;
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-interpolate', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-default', schemaType: 'string' });
  return ajv;
}

export function configValidator(): ValidateFunction {
  if (!cached) {
    const schema = loadSchema();
    cached = { schema, validate: newAjv().compile(schema) };
  }
  return cached.validate;
}

export type { ErrorObject };
