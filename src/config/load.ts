// load → validate → resolve: the one entry point that turns a config path into a Snapshot or a
// complete list of problems. Used by `mailroom check`, `run` and every reload.
import { createHash } from 'node:crypto';
import { checkSemantics } from './semantic.js';
import { mergeFiles } from './merge.js';
import { hasErrors, sortProblems, type Problem } from './problems.js';
import { resolveSnapshot } from './resolve.js';
import { readSources, type SourceFile } from './sources.js';
import type { MailroomConfig } from './types.generated.js';
import type { Snapshot } from './snapshot.js';
import { validateSchema } from './validate-schema.js';
import { parseYamlFile } from './yaml-file.js';

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
  for (const s of sources) h.update(s.name).update('\0').update(s.text).update('\0');
  return h.digest('hex');
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
  const parsed = sources.map((s) => parseYamlFile(s, { env, skipEnv: opts.skipEnv }));
  const merged = mergeFiles(parsed);
  const problems: Problem[] = [...parsed.flatMap((p) => p.problems), ...merged.problems];
  const schemaProblems = validateSchema(merged.data, merged.locations);
  problems.push(...schemaProblems);
  if (!parsed.some((p) => p.data === undefined)) problems.push(...semanticsBeside(merged.data, merged.locations, schemaProblems));
  const sorted = sortProblems(problems);
  if (hasErrors(sorted)) return { snapshot: null, problems: sorted, hash };
  const snapshot = resolveSnapshot(merged.data as MailroomConfig, {
    hash,
    files: sources.map((s) => s.name),
    locations: merged.locations,
    warnings: sorted,
  });
  return { snapshot, problems: sorted, hash };
}

/** Semantic checks also run beside schema errors (all problems in one pass), minus those about a
 * part the schema already rejected; a shape too broken to check is left to the schema's messages. */
function semanticsBeside(data: unknown, locations: Parameters<typeof checkSemantics>[1], schemaProblems: Problem[]): Problem[] {
  const norm = (p: string | undefined) => (p ?? '').replace(/\[(\d+)\]/g, '.$1');
  const rejected = schemaProblems.map((p) => norm(p.path));
  try {
    return checkSemantics(data as MailroomConfig, locations).filter((p) => {
      const path = norm(p.path);
      return !rejected.some((r) => path === r || path.startsWith(r + '.') || r.startsWith(path + '.'));
    });
  } catch {
    return [];
  }
}
