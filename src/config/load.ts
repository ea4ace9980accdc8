// load → validate → resolve: the one entry point that turns a config path into a Snapshot or a
// complete list of problems. Used by `mailroom check`, `run` and every reload.
import { createHash } from 'node:crypto';
import { checkSemantics, type SemanticOptions } from './semantic.js';
import { mergeFiles } from './merge.js';
import { hasErrors, sortProblems, type Problem } from './problems.js';
import { resolveSnapshot, SECRET_FIELDS } from './resolve.js';
import { REDACTED } from './secret.js';
import { readSources, type SourceFile } from './sources.js';
import type { MailroomConfig } from './types.generated.js';
import type { Snapshot } from './snapshot.js';
import { MISSING_VERSION, pointerToDotted, validateSchema } from './validate-schema.js';
import { parseYamlFile, type NodeLocation, type ParseOptions } from './yaml-file.js';
import { fieldPolicy, refusedMessage, secretVariablesElsewhere } from './interpolation-policy.js';
import { loadSchema } from './schema.js';

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Check syntax and semantics without the environment's secrets (CI on a pull request). */
  skipEnv?: boolean;
}

export interface LoadResult {
  snapshot: Snapshot | null;
  problems: Problem[];
  /** Hash of the sources, available even when they are invalid (reload: identical content is a no-op). */
  hash: string | null;
}

export function hashSources(sources: readonly SourceFile[]): string {
  const h = createHash('sha256');
  for (const s of sources) h.update(s.relative ?? s.name).update('\0').update(s.text).update('\0');
  return h.digest('hex');
}

/** The hash loadConfig would report for the config path, without parsing it (null when unreadable). */
export async function hashConfig(path: string): Promise<string | null> {
  try {
    return hashSources(await readSources(path));
  } catch {
    return null;
  }
}

export async function loadConfig(path: string, opts: LoadOptions = {}): Promise<LoadResult> {
  let sources: SourceFile[];
  try {
    sources = await readSources(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? `config path ${path} does not exist` : `cannot read config ${path}: ${(e as Error).message}`;
    return { snapshot: null, problems: [{ severity: 'error', message }], hash: null };
  }
  return loadFromSources(sources, opts);
}

export function loadFromSources(sources: readonly SourceFile[], opts: LoadOptions = {}): LoadResult {
  const hash = hashSources(sources);
  if (sources.length === 0) return { snapshot: null, problems: [{ severity: 'error', message: 'no *.yaml or *.yml files found in the config path' }], hash };
  const env = opts.env ?? process.env;
  const schema = schemaForPlaceholders();
  const placeholders: ParseOptions['placeholders'] = (path) => {
    const f = fieldPolicy(schema, path);
    return f.kind === 'refused' ? { allowed: false, refused: (vars) => refusedMessage(schema, vars, path) } : { allowed: true, integer: f.integer };
  };
  const parsed = sources.map((s) => parseYamlFile(s, { env, skipEnv: opts.skipEnv, placeholders }));
  const merged = mergeFiles(parsed);
  const problems: Problem[] = [...parsed.flatMap((p) => p.problems), ...merged.problems, ...secretVariablesElsewhere(schema, merged.locations)];
  // Semantic checks run even when a file did not parse (every problem in one pass); only the
  // references that file might have satisfied are left out (and `version`, which it may set).
  const partial = parsed.some((p) => p.data === undefined);
  const schemaProblems = withoutUnchecked(validateSchema(merged.data, merged.locations), merged.locations)
    .filter((p) => !(partial && p.message === MISSING_VERSION))
    // With no file that is a map there is no top-level location: point at the first file.
    .map((p) => (p.message === MISSING_VERSION && !p.file ? { ...p, file: sources[0]!.name, line: 1, col: 1 } : p));
  problems.push(...schemaProblems);
  problems.push(...withoutUnchecked(semanticsBeside(merged.data, merged.locations, schemaProblems, { partial }), merged.locations));
  const sorted = sortProblems(redactSecretValues(problems, merged.locations, env));
  if (hasErrors(sorted)) return { snapshot: null, problems: sorted, hash };
  const snapshot = resolveSnapshot(merged.data as unknown as MailroomConfig, {
    hash,
    files: sources.map((s) => s.name),
    locations: merged.locations,
    warnings: sorted,
  });
  return { snapshot, problems: sorted, hash };
}

let schemaCache: Record<string, unknown> | undefined;
/** The schema as data: which fields may hold `${VAR}` (x-secret, x-interpolate). */
function schemaForPlaceholders(): Record<string, unknown> {
  return (schemaCache ??= loadSchema());
}

const normPath = (p: string | undefined) => (p ?? '').replace(/\[(\d+)\]/g, '.$1');
const covers = (outer: string, inner: string) => inner === outer || inner.startsWith(outer + '.');

/** A value whose `${VAR}` failed (already reported) or was skipped (--skip-env) is not known:
 * schema and semantic checks about it would only be noise (e.g. "too short" for an unset token). */
function withoutUnchecked(problems: Problem[], locations: Map<string, NodeLocation>): Problem[] {
  const unchecked = [...locations].filter(([, l]) => l.unchecked).map(([ptr]) => normPath(pointerToDotted(ptr)));
  if (unchecked.length === 0) return problems;
  return problems.filter((p) => !p.path || !unchecked.some((u) => covers(u, normPath(p.path))));
}

const SECRET_VAR_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY/i;

/** Messages quote values (an unknown id, a bad timezone ...). A value that came from an environment
 * variable holding a secret (used in an x-secret field, or named like one) is never echoed. */
function redactSecretValues(problems: Problem[], locations: Map<string, NodeLocation>, env: Record<string, string | undefined>): Problem[] {
  const secretVars = new Set<string>();
  for (const [ptr, l] of locations) {
    const field = ptr.slice(ptr.lastIndexOf('/') + 1);
    for (const v of l.vars ?? []) if ((SECRET_FIELDS as readonly string[]).includes(field) || SECRET_VAR_NAME.test(v)) secretVars.add(v);
  }
  const values = [...secretVars]
    .map((v) => env[v])
    .filter((v): v is string => typeof v === 'string' && v.length >= 4)
    .sort((a, b) => b.length - a.length);
  if (values.length === 0) return problems;
  return problems.map((p) => {
    const message = values.reduce((m, v) => m.split(v).join(REDACTED), p.message);
    return message === p.message ? p : { ...p, message };
  });
}

/** Semantic checks also run beside schema errors (all problems in one pass), minus those about a
 * part the schema already rejected; a shape too broken to check is left to the schema's messages. */
function semanticsBeside(data: unknown, locations: Parameters<typeof checkSemantics>[1], schemaProblems: Problem[], opts: SemanticOptions): Problem[] {
  const norm = (p: string | undefined) => (p ?? '').replace(/\[(\d+)\]/g, '.$1');
  const rejected = schemaProblems.map((p) => norm(p.path));
  try {
    return checkSemantics(data as MailroomConfig, locations, opts).filter((p) => {
      const path = norm(p.path);
      return !rejected.some((r) => path === r || path.startsWith(r + '.') || r.startsWith(path + '.'));
    });
  } catch {
    return [];
  }
}
