// Generates docs/configuration.md, the configuration reference, from the one JSON Schema: one section
// per $defs type and the top level, a table per object (field, type, default, description), enums
// listed, types linked. test/unit/schema-drift.test.ts fails when the committed page differs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSchema } from '../src/config/schema.js';

type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string | string[];
  description?: string;
  title?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  propertyNames?: Schema;
  items?: Schema;
  anyOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  required?: string[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
};

export const DOCS_FILE = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

const TOP = 'top-level';
const code = (v: unknown) => '`' + (typeof v === 'string' ? v : JSON.stringify(v)) + '`';
/** Text safe inside a table cell. */
const cell = (s: string) => s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
const anchor = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const refName = (ref: string) => ref.replace(/^#\/\$defs\//, '');

interface Section {
  /** Heading text, e.g. `Mailbox` or `Route.set`. */
  name: string;
  schema: Schema;
  /** Where the type is used: `Type.field` labels with the section they sit in. */
  usedBy: { label: string; section: string }[];
}

export function generateDocs(): string {
  const root = loadSchema() as Schema;
  const defs = (root.$defs ?? {}) as Record<string, Schema>;
  const sections = new Map<string, Section>();
  const resolve = (s: Schema): Schema => (s.$ref ? resolve(defs[refName(s.$ref)] ?? {}) : s);

  /** An object schema with its own fields (inline ones get their own section). */
  const isObjectWithFields = (s: Schema) => !s.$ref && (s.properties !== undefined || s.allOf !== undefined);

  // Sections in a stable order: top level, then $defs in schema order, inline objects after their owner.
  const order: string[] = [];
  const addSection = (name: string, schema: Schema) => {
    if (!sections.has(name)) {
      sections.set(name, { name, schema, usedBy: [] });
      order.push(name);
    }
  };
  const addInline = (owner: string, s: Schema) => {
    for (const [field, p] of Object.entries(s.properties ?? {})) {
      const target = p.items && isObjectWithFields(p.items) ? p.items : isObjectWithFields(p) ? p : undefined;
      if (target) {
        addSection(`${owner}.${field}`, target);
        addInline(`${owner}.${field}`, target);
      }
    }
  };
  addSection(TOP, root);
  addInline('', { properties: root.properties });
  for (const [name, s] of Object.entries(defs)) {
    addSection(name, s);
    addInline(name, s);
  }
  // Inline objects of the top level are named by their field alone.
  const sectionOf = (owner: string, field: string) => (owner === TOP ? `.${field}` : `${owner}.${field}`);

  const link = (name: string) => `[${name === TOP ? 'top level' : name.replace(/^\./, '')}](#${anchor(name === TOP ? TOP : name)})`;

  /** Human type of a schema, with links to the sections of referenced types. */
  const typeOf = (s: Schema, owner: string, field: string): string => {
    if (s.$ref) return link(refName(s.$ref));
    if (s.const !== undefined) return code(s.const);
    if (s.enum) return s.enum.map(code).join(' | ');
    if (s.anyOf) return s.anyOf.map((a) => typeOf(a, owner, field)).join(' or ');
    if (isObjectWithFields(s) && sections.has(sectionOf(owner, field))) return link(sectionOf(owner, field));
    const t = Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
    if (t === 'array') {
      const items = s.items ?? {};
      const inner = isObjectWithFields(items) && sections.has(sectionOf(owner, field)) ? link(sectionOf(owner, field)) : typeOf(items, owner, field);
      return `list of ${inner}${s.minItems ? ` (at least ${s.minItems})` : ''}`;
    }
    if (t === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') {
      const names = s.propertyNames;
      const key = names?.$ref ? link(refName(names.$ref)) : names?.pattern ? `name matching ${code(names.pattern)}` : 'name';
      return `map of ${key} → ${typeOf(s.additionalProperties, owner, field)}`;
    }
    const notes: string[] = [];
    if (s.format) notes.push(s.format);
    if (s.minimum !== undefined && s.maximum !== undefined) notes.push(`${s.minimum}–${s.maximum}`);
    else if (s.minimum !== undefined) notes.push(`≥ ${s.minimum}`);
    else if (s.maximum !== undefined) notes.push(`≤ ${s.maximum}`);
    if (s.minLength !== undefined && s.minLength > 1) notes.push(`at least ${s.minLength} characters`);
    if (s.pattern) notes.push(`matching ${code(s.pattern)}`);
    return notes.length ? `${t} (${notes.join(', ')})` : t;
  };

  /** The schema's `default`, else its `x-default` text, else the value a description states with "Default ...". */
  const defaultOf = (s: Schema): string => {
    const own = s.default ?? resolve(s).default;
    if (own !== undefined) return code(own);
    const text0 = (s as { 'x-default'?: string })['x-default'];
    if (text0 !== undefined) return cell(text0);
    const text = s.description ?? resolve(s).description ?? '';
    const m = /\bDefault:? ([^.;,]+)/.exec(text) ?? /(`[^`]+`) \(default\)/.exec(text);
    return m ? cell(m[1]!.trim()) : '';
  };

  /** Fields of an object, including those it takes from allOf references. */
  const fieldsOf = (s: Schema): { fields: [string, Schema][]; via: string[]; required: Set<string> } => {
    const fields: [string, Schema][] = [];
    const via: string[] = [];
    const required = new Set(s.required ?? []);
    for (const sub of s.allOf ?? []) {
      const r = fieldsOf(resolve(sub));
      if (sub.$ref) via.push(refName(sub.$ref));
      fields.push(...r.fields);
      r.required.forEach((x) => required.add(x));
    }
    fields.push(...Object.entries(s.properties ?? {}));
    return { fields, via, required };
  };

  // Back references: which fields use each section (own fields only; allOf is "Includes").
  const includedBy = new Map<string, string[]>();
  for (const name of order) {
    const sec = sections.get(name)!;
    for (const sub of sec.schema.allOf ?? []) if (sub.$ref) includedBy.set(refName(sub.$ref), [...(includedBy.get(refName(sub.$ref)) ?? []), name]);
    for (const [field, p] of Object.entries(sec.schema.properties ?? {})) {
      const refs = new Set<string>();
      const collect = (x: Schema | boolean | undefined) => {
        if (!x || typeof x !== 'object') return;
        if (x.$ref) refs.add(refName(x.$ref));
        x.anyOf?.forEach(collect);
        collect(x.items);
        collect(x.additionalProperties);
      };
      collect(p);
      if (isObjectWithFields(p) || (p.items && isObjectWithFields(p.items))) refs.add(sectionOf(name, field));
      const label = name === TOP ? field : `${name.replace(/^\./, '')}.${field}`;
      for (const r of refs) sections.get(r)?.usedBy.push({ label, section: name });
    }
  }

  const out: string[] = [];
  out.push('# Configuration reference', '');
  out.push('<!-- GENERATED from schemas/mailroom.schema.json by scripts/gen-docs.ts: do not edit, run `npm run gen`. -->', '');
  out.push(
    'Every file in the config directory may hold any of the top-level sections; maps (`companies`, `mailboxes`, `webhooks`, `schedules`, `workflows`) are merged by id and `routes` are concatenated in file-name order. ' +
      'Fields marked `${VAR}` may take their value from the environment: `${VAR}`, `${VAR:-default}` or `${VAR:?message}`. Those are the secrets and what an operator sets per deployment (hosts, ports, URLs, user names, file paths, the store path, the listen address); a placeholder anywhere else is an error, and so is a variable that a secret field uses standing in a field that is not secret. Fields marked 🔒 are secrets: they are never printed (explain, logs, errors) and are better given as `${VAR}` or through their `*File` sibling. ' +
      'Start a file with `# yaml-language-server: $schema=<path to schemas/mailroom.schema.json>` for completion and hover text in editors.',
    '',
  );
  out.push('## Contents', '');
  for (const name of order) out.push(`${name.includes('.') ? '  ' : ''}- ${link(name)}`);
  out.push('');

  for (const name of order) {
    const sec = sections.get(name)!;
    const s = sec.schema;
    const title = name === TOP ? 'Top level' : name.replace(/^\./, '');
    out.push(`<a id="${anchor(name)}"></a>`, '', `## ${title}`, '');
    if (name === TOP) out.push('The root of every config file (`MailroomConfig`).', '');
    else if (s.description) out.push(s.description, '');
    if (name === TOP && s.description) out.push(s.description, '');
    if (sec.usedBy.length) {
      const uses = [...new Map(sec.usedBy.map((u) => [u.label, u])).values()];
      out.push(`Used by: ${uses.map((u) => `[${u.label}](#${anchor(u.section)})`).join(', ')}.`, '');
    }
    if (includedBy.has(name)) out.push(`Included by: ${includedBy.get(name)!.map(link).join(', ')}.`, '');
    const { fields, via, required } = fieldsOf(s);
    if (fields.length > 0) {
      if (via.length) out.push(`Includes the fields of ${via.map(link).join(', ')}.`, '');
      if (s.additionalProperties === false || s.unevaluatedProperties === false) out.push('Other fields are rejected.', '');
      out.push('| Field | Type | Default | Description |', '|---|---|---|---|');
      for (const [field, p] of fields) {
        // A field without its own text borrows the first sentence of its type's, with a link.
        const desc = p.description ?? (p.$ref ? `${firstSentence(resolve(p).description ?? '')} See ${link(refName(p.$ref))}.` : '');
        const flags = [required.has(field) ? '**required**' : '', p['x-secret'] === true ? '🔒' : '', p['x-secret'] === true || p['x-interpolate'] === true ? '`${VAR}`' : ''].filter(Boolean).join(' ');
        out.push(`| \`${field}\`${flags ? ` ${flags}` : ''} | ${cell(typeOf(p, name, field))} | ${defaultOf(p)} | ${cell(desc)} |`);
      }
      out.push('');
    } else {
      out.push(`Type: ${typeOf({ ...s, description: undefined }, name, '')}.`, '');
      if (s.enum) {
        out.push('Values:', '');
        for (const v of s.enum) out.push(`- ${code(v)}`);
        out.push('');
      }
      if (s.anyOf) {
        out.push('One of:', '');
        for (const a of s.anyOf) out.push(`- ${typeOf(a, name, '')}`);
        out.push('');
      }
    }
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

function firstSentence(text: string): string {
  const m = /^.*?[.:](?=\s|$)/.exec(text);
  return (m ? m[0] : text).replace(/:$/, '.');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(dirname(DOCS_FILE), { recursive: true });
  writeFileSync(DOCS_FILE, generateDocs());
  console.log(`wrote ${DOCS_FILE}`);
}
