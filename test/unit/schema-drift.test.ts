// The one schema stays the one source of truth: every property documented, ajv strict compiles it,
// the generated types and reference page equal what the generators print now, the example configs
// validate, and every file in config/ points editors at the schema.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { DOCS_FILE, generateDocs } from '../../scripts/gen-docs.js';
import { generateTypes, TYPES_FILE } from '../../scripts/gen-types.js';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import { loadSchema, newAjv, SCHEMA_URL } from '../../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The first sketch of the configuration (written before mailroom existed), kept as a fixture: configs
// written to it must keep loading.
const SPEC = resolve(ROOT, 'test', 'fixtures', 'config', 'first-sketch');
beforeAll(() => process.chdir(ROOT));

/** Every `properties` entry in the schema (top level, $defs, nested inline objects), as `where.name`. */
function allProperties(schema: unknown): { where: string; node: Record<string, unknown> }[] {
  const out: { where: string; node: Record<string, unknown> }[] = [];
  const walk = (node: unknown, path: string) => {
    if (typeof node !== 'object' || node === null) return;
    const props = (node as { properties?: Record<string, unknown> }).properties;
    if (props && typeof props === 'object') for (const [name, p] of Object.entries(props)) out.push({ where: `${path}.properties.${name}`, node: p as Record<string, unknown> });
    for (const [k, v] of Object.entries(node)) walk(v, `${path}.${k}`);
  };
  walk(schema, '#');
  return out;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name.startsWith('.')) return [];
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/i.test(name) ? [full] : [];
  });
}

describe('the schema', () => {
  const schema = loadSchema();

  it('gives every property a description (the editor hover text), $defs included', () => {
    const props = allProperties(schema);
    expect(props.length).toBeGreaterThan(100);
    const defs = schema.$defs as Record<string, Record<string, unknown>>;
    const has = (d: unknown) => typeof d === 'string' && d.trim() !== '';
    // A property that is only a `$ref` shows its type's description (JSON Schema annotations of the
    // referenced schema apply; yaml-language-server's hover shows it), so either place counts.
    const described = (node: Record<string, unknown>) =>
      has(node.description) || (typeof node.$ref === 'string' && has(defs[node.$ref.replace('#/$defs/', '')]?.description));
    expect(props.filter(({ node }) => !described(node)).map((p) => p.where)).toEqual([]);
    // Every $defs type has one too, and so do array items and map values written inline.
    for (const [name, def] of Object.entries(schema.$defs as Record<string, Record<string, unknown>>)) expect(def.description, name).toEqual(expect.any(String));
  });

  it('compiles with ajv in strict mode (unknown keywords, ambiguous types and bad defaults are errors)', () => {
    expect(() => newAjv().compile(loadSchema())).not.toThrow();
    // strict really is on: an unknown keyword is refused.
    expect(() => newAjv().compile({ type: 'object', properties: { a: { type: 'string', descripton: 'typo' } } })).toThrow(/strict mode: unknown keyword/);
  });

  it('is JSON Schema 2020-12', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });
});

describe('generated files are up to date (run `npm run gen` when these fail)', () => {
  it('src/config/types.generated.ts equals generateTypes()', async () => {
    expect(readFileSync(TYPES_FILE, 'utf8')).toBe(await generateTypes());
  });

  it('docs/configuration.md equals generateDocs()', () => {
    expect(existsSync(DOCS_FILE)).toBe(true);
    expect(readFileSync(DOCS_FILE, 'utf8')).toBe(generateDocs());
  });

  it('the reference page documents every type, every field, every enum value, and its links resolve', () => {
    const doc = generateDocs();
    const defs = loadSchema().$defs as Record<string, Record<string, unknown>>;
    for (const name of Object.keys(defs)) expect(doc).toContain(`\n## ${name}\n`);
    for (const { where } of allProperties(loadSchema())) expect(doc, where).toContain(`| \`${where.slice(where.lastIndexOf('.') + 1)}\``);
    for (const value of ['office365', 'client_credentials', 'starttls', 'mailbox-suspended', 'delete', 'trace']) expect(doc).toContain(`\`${value}\``);
    const anchors = new Set([...doc.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]));
    const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(50);
    expect(links.filter((l) => !anchors.has(l))).toEqual([]);
  });
});

describe('the example configs validate', () => {
  it('config/ (the layout `npm start` runs): no problems at all, without any secret set', async () => {
    const r = await loadConfig('config/', { env: {} });
    expect(r.problems.map(formatProblem)).toEqual([]);
    expect(r.snapshot).not.toBeNull();
  });

  it('the first config sketch (test/fixtures/config/first-sketch): no schema errors with --skip-env', async () => {
    const r = await loadConfig(SPEC, { env: {}, skipEnv: true });
    expect(r.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
    expect(r.snapshot).not.toBeNull();
    // It reads legacy-pop without listing it in a contract: a warning, not an error.
    expect(r.problems.map((p) => p.message)).toEqual([expect.stringContaining('mailbox "legacy-pop" is read but no contract lists it')]);
  });

  it('the first config sketch resolves with its secrets set', async () => {
    const r = await loadConfig(SPEC, { env: { LEGACY_POP_PASSWORD: 'app-password', ACME_PORTAL_TOKEN: 'a-token-of-32-characters-at-least' } });
    expect(r.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  });

  it('every file in config/ starts with a yaml-language-server $schema comment pointing at the schema', () => {
    const files = yamlFiles(join(ROOT, 'config'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const schemaPath = fileURLToPath(SCHEMA_URL);
    for (const file of files) {
      const first = readFileSync(file, 'utf8').split('\n')[0]!;
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, `${relative(ROOT, file)} first line: ${first}`).not.toBeNull();
      const target = resolve(dirname(file), m![1]!);
      expect(existsSync(target), `${relative(ROOT, file)} → ${m![1]}`).toBe(true);
      expect(target).toBe(schemaPath);
    }
  });
});
