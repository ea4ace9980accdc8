// Parses one YAML file into plain data plus a map of JSON-pointer paths to `line:col`,
// interpolating `${VAR}` placeholders as it goes. Syntax errors and duplicate keys become problems.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { interpolate } from './interpolate.js';
import type { Problem, SourceLocation } from './problems.js';
import type { SourceFile } from './sources.js';

export interface NodeLocation {
  /** Where the key of a map entry sits (the best place to point at for an unknown or misplaced field). */
  key?: SourceLocation;
  value: SourceLocation;
  /** The value came from a `${VAR}` placeholder (so it is not written inline in Git). */
  fromEnv?: boolean;
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
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = e.linePos?.[0];
    const message = String(e.message).split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    problems.push({
      severity: doc.errors.includes(e as never) ? 'error' : 'warning',
      message: `YAML: ${message}`,
      file: source.name,
      line: pos?.line ?? 1,
      col: pos?.col ?? 1,
    });
  }
  if (doc.errors.length > 0) return { source, data: undefined, locations, problems };

  const walk = (node: unknown, path: (string | number)[], keyLoc?: SourceLocation): unknown => {
    if (isAlias(node)) return walk(node.resolve(doc), path, keyLoc);
    const n = node as Node | null;
    const here = pointer(path);
    const valueLoc = at(n?.range?.[0]);
    locations.set(here, { key: keyLoc, value: keyLoc && !n ? keyLoc : valueLoc });
    if (isMap(n)) {
      const out: Record<string, unknown> = {};
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
        const r = interpolate(v, opts.env, { skipEnv: opts.skipEnv });
        for (const message of r.errors) problems.push({ severity: 'error', message, ...valueLoc });
        if (r.usedVars.length > 0) locations.set(here, { key: keyLoc, value: valueLoc, fromEnv: true });
        return r.value;
      }
      return v;
    }
    return null;
  };
  const data = walk(doc.contents, []);
  return { source, data: data ?? {}, locations, problems };
}
