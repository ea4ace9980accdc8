// Parses one YAML file into plain data plus a map of JSON-pointer paths to `line:col`,
// interpolating `${VAR}` placeholders as it goes. Syntax errors and duplicate keys become problems.
import { idMap } from './id-map.js';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { interpolate } from './interpolate.js';
import type { Problem, SourceLocation } from './problems.js';
import type { SourceFile } from './sources.js';

export interface NodeLocation {
  /** Where the key of a map entry sits (the best place to point at for an unknown or misplaced field). */
  key?: SourceLocation;
  value: SourceLocation;
  /** The value came from a `${VAR}` placeholder (so it is not written inline in Git). */
  fromEnv?: boolean;
  /** The environment variables the value was built from. */
  vars?: string[];
  /** The value is not known (a `${VAR}` that failed, or was skipped with skipEnv): later checks leave it alone. */
  unchecked?: boolean;
}

export interface ParsedFile {
  source: SourceFile;
  data: unknown;
  locations: Map<string, NodeLocation>;
  problems: Problem[];
}

export interface ParseOptions {
  env: Record<string, string | undefined>;
  skipEnv?: boolean;
  /**
   * May `${VAR}` stand at this path (interpolation-policy.ts)? Refused: the placeholder stays as
   * written and `refused(vars)` is the error. Without it every string field interpolates.
   */
  placeholders?: (path: readonly (string | number)[]) => { allowed: true; integer: boolean } | { allowed: false; refused: (vars: string[]) => string };
}

export function pointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

export function parseYamlFile(source: SourceFile, opts: ParseOptions): ParsedFile {
  const lineCounter = new LineCounter();
  const problems: Problem[] = [];
  const locations = new Map<string, NodeLocation>();
  const at = (offset: number | undefined): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { file: source.name, line, col };
  };
  const doc: Document = parseDocument(source.text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const seen = new Set<string>();
  for (const e of [...doc.errors, ...doc.warnings]) {
    // prettyErrors is off (its message embeds a source excerpt), so place the error from its offset.
    const pos = at(e.pos[0]);
    let message = String(e.message).split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    if (e.code === 'DUPLICATE_KEY') message = duplicateKeyMessage(doc, e.pos[0], at);
    const key = `${pos.line}:${pos.col}:${message}`;
    if (seen.has(key)) continue; // the parser can report one fault twice
    seen.add(key);
    problems.push({ severity: doc.errors.includes(e as never) ? 'error' : 'warning', message: `YAML: ${message}`, ...pos });
  }
  if (doc.errors.length > 0) return { source, data: undefined, locations, problems };
  // An empty or comment-only file sets nothing: fine beside others, but it may be a file caught
  // half-written (truncated, not yet written), so say which one.
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null))
    problems.push({ severity: 'warning', code: 'empty-file', message: `${source.name} is empty (or only comments): it sets nothing`, file: source.name, line: 1, col: 1 });

  const walk = (node: unknown, path: (string | number)[], keyLoc?: SourceLocation): unknown => {
    if (isAlias(node)) return walk(node.resolve(doc), path, keyLoc);
    const n = node as Node | null;
    const here = pointer(path);
    const valueLoc = at(n?.range?.[0]);
    locations.set(here, { key: keyLoc, value: keyLoc && !n ? keyLoc : valueLoc });
    if (isMap(n)) {
      // Prototype-less: a `__proto__:` key must stay a key (the schema refuses it), not set the prototype.
      const out = idMap<unknown>();
      for (const pair of n.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        const key = String(k);
        const kLoc = at((pair.key as Node | null)?.range?.[0]);
        out[key] = walk(pair.value, [...path, key], kLoc);
      }
      return out;
    }
    if (isSeq(n)) return n.items.map((item, i) => walk(item, [...path, i]));
    if (isScalar(n)) {
      const v = n.value;
      if (typeof v === 'string' && v.includes('${')) {
        const policy = opts.placeholders?.(path) ?? { allowed: true as const, integer: false };
        if (!policy.allowed) {
          // Not even looked up: the variable's value never reaches this field, nor any message about it.
          const vars = interpolate(v, {}, { skipEnv: true }).usedVars;
          problems.push({ severity: 'error', message: policy.refused(vars), ...valueLoc });
          locations.set(here, { key: keyLoc, value: valueLoc, unchecked: true });
          return v;
        }
        const r = interpolate(v, opts.env, { skipEnv: opts.skipEnv });
        for (const message of r.errors) problems.push({ severity: 'error', message, ...valueLoc });
        const unchecked = r.errors.length > 0 || r.unresolved.length > 0 ? { unchecked: true } : {};
        if (r.usedVars.length > 0) locations.set(here, { key: keyLoc, value: valueLoc, fromEnv: true, vars: r.usedVars, ...unchecked });
        else if (r.errors.length > 0) locations.set(here, { key: keyLoc, value: valueLoc, ...unchecked });
        // A failed placeholder keeps its raw text: it is already reported, and an empty string would
        // only raise follow-on problems ("needs a host"); no snapshot is built from it anyway.
        if (r.errors.length > 0) return v;
        // A port from the environment: YAML would have read `993` as a number, so does this.
        return policy.integer && r.unresolved.length === 0 && /^\d{1,9}$/.test(r.value) ? Number(r.value) : r.value;
      }
      return v;
    }
    return null;
  };
  const data = walk(doc.contents, []);
  return { source, data: data ?? {}, locations, problems };
}

/** "duplicate key" naming the key and where it was first given (the parser only says keys must be unique). */
function duplicateKeyMessage(doc: Document, offset: number, at: (offset: number | undefined) => SourceLocation): string {
  let message = 'duplicate key (keys of a map must be unique)';
  visit(doc, {
    Map(_k, map) {
      const first = new Map<string, Node>();
      for (const pair of map.items) {
        const keyNode = pair.key as Node | null;
        const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const earlier = first.get(name);
        if (earlier && keyNode?.range?.[0] === offset) {
          message = `duplicate key "${name}" (first given at line ${at(earlier.range?.[0]).line}): keys of a map must be unique`;
          return visit.BREAK;
        }
        if (!earlier && keyNode) first.set(name, keyNode);
      }
      return undefined;
    },
  });
  return message;
}
