// Why this file exists: the house rules that keep the architecture honest, checked on the source:
// no import cycles in src/ (type-only imports count: they couple files too), and outside src/store/
// nothing reaches into a store implementation — the rest of mailroom sees durable state only through
// the store port (port.ts, opened by open.ts) and the store's shared shapes.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(fileURLToPath(new URL('../../src', import.meta.url)));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports (static, export-from, type-only) of a file, resolved to .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  return out;
}

const all = files(SRC);
const graph = new Map(all.map((f) => [f, importsOf(f).filter((t) => t.startsWith(SRC))]));
const rel = (f: string) => relative(SRC, f);

describe('architecture', () => {
  it('has no import cycles in src/', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].map(rel).join(' > '));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of all) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('reaches the store only through its port, open/peek and shared shapes outside src/store/', () => {
    const allowed = /^store\/(port|open|peek|admin|index|types|control-types|delivery-types|outbox-types)\.ts$/;
    const offenders: string[] = [];
    for (const [f, targets] of graph) {
      if (rel(f).startsWith('store/')) continue;
      for (const t of targets) if (rel(t).startsWith('store/') && !allowed.test(rel(t))) offenders.push(`${rel(f)} imports ${rel(t)}`);
    }
    expect(offenders).toEqual([]);
  });

  it('joins no path under store.path outside src/store/', () => {
    const offenders = all
      .filter((f) => !rel(f).startsWith('store/'))
      .filter((f) => /join\([^)]*(store\.path|storePath)|(store\.path|storePath)\s*\+/.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('sees real imports (the check would find a cycle if there were one)', () => {
    expect(graph.get(join(SRC, 'daemon/daemon.ts'))!.map(rel)).toContain('store/open.ts');
  });
});
