// Why this file exists: built-in defaults come from the schema's `default` keywords, so the schema is
// their one source (editors show them, docs list them) and the resolver cannot drift from it.
import { loadSchema } from './schema.js';

let defs: Record<string, { properties?: Record<string, { default?: unknown }> }> | undefined;

/** The schema's `default` of `$defs/<def>.properties.<prop>`; throws when the schema has none. */
export function schemaDefault<T>(def: string, prop: string): T {
  defs ??= (loadSchema() as { $defs: typeof defs }).$defs;
  const p = defs?.[def]?.properties?.[prop];
  if (!p || !('default' in p)) throw new Error(`schema has no default for ${def}.${prop}`);
  return p.default as T;
}
