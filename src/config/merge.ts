// Merges the parsed files of a config directory into one document: top-level maps by id,
// `routes` concatenated in file-name order, singletons (server, store, ...) from one file only.
import { idMap } from './id-map.js';
import type { Problem, SourceLocation } from './problems.js';
import { pointer, type NodeLocation, type ParsedFile } from './yaml-file.js';

export const MAP_SECTIONS = ['companies', 'mailboxes', 'webhooks', 'schedules', 'workflows'] as const;
export const LIST_SECTIONS = ['routes'] as const;

export interface MergedConfig {
  data: Record<string, unknown>;
  locations: Map<string, NodeLocation>;
  problems: Problem[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const fmt = (l: SourceLocation | undefined) => (l ? `${l.file}:${l.line}:${l.col}` : 'unknown place');
const SINGULAR: Record<string, string> = { companies: 'company', mailboxes: 'mailbox', webhooks: 'webhook', schedules: 'schedule', workflows: 'workflow' };

export function mergeFiles(files: readonly ParsedFile[]): MergedConfig {
  const data: Record<string, unknown> = {};
  const locations = new Map<string, NodeLocation>();
  const problems: Problem[] = [];
  const owner = new Map<string, SourceLocation | undefined>();

  // A file's locations grouped by their first one and two pointer segments, built once per file: copying
  // an entry's locations then reads only that entry's (not every location of the file per entry, which
  // made loading a config of a thousand mailboxes quadratic: seconds per reload).
  const indexes = new WeakMap<ParsedFile, Map<string, [string, NodeLocation][]>>();
  const indexOf = (file: ParsedFile) => {
    let index = indexes.get(file);
    if (index) return index;
    index = new Map();
    for (const entry of file.locations) {
      for (const key of prefixKeys(entry[0])) (index.get(key) ?? index.set(key, []).get(key)!).push(entry);
    }
    indexes.set(file, index);
    return index;
  };
  const copyLocations = (file: ParsedFile, fromPrefix: string, toPrefix: string) => {
    for (const [p, loc] of indexOf(file).get(fromPrefix) ?? []) {
      if (p === fromPrefix || p.startsWith(fromPrefix + '/')) locations.set(toPrefix + p.slice(fromPrefix.length), loc);
    }
  };

  for (const file of files) {
    if (file.data === undefined) continue; // syntax errors already reported
    const where = file.locations.get('');
    if (!isPlainObject(file.data)) {
      if (file.data === null) continue; // an empty file
      const found = Array.isArray(file.data) ? 'a list' : `a ${typeof file.data}`;
      problems.push({ severity: 'error', message: `the top level of this file is ${found}: a config file must be a map of sections (companies:, mailboxes:, ...)`, ...where?.value });
      continue;
    }
    if (!locations.has('')) locations.set('', where ?? { value: { file: file.source.name, line: 1, col: 1 } });
    for (const [section, value] of Object.entries(file.data)) {
      const sectionPtr = pointer([section]);
      const sectionLoc = file.locations.get(sectionPtr);
      const mergeable = (MAP_SECTIONS as readonly string[]).includes(section) || (LIST_SECTIONS as readonly string[]).includes(section);
      // An empty `companies:` (every entry commented out) is null: it adds nothing, in any file.
      if (mergeable && value === null) continue;
      // The first file that has the section owns its place, for "defined in more than one file".
      if (mergeable && !owner.has(sectionPtr)) owner.set(sectionPtr, sectionLoc?.key ?? sectionLoc?.value);
      if ((MAP_SECTIONS as readonly string[]).includes(section) && isPlainObject(value)) {
        // Prototype-less: an id such as `constructor` is not "in" a fresh map (it reaches the schema, which refuses it).
        const target = (isPlainObject(data[section]) ? data[section] : (data[section] = idMap())) as Record<string, unknown>;
        if (!locations.has(sectionPtr)) locations.set(sectionPtr, sectionLoc!);
        for (const [id, entry] of Object.entries(value)) {
          const ptr = pointer([section, id]);
          const loc = file.locations.get(ptr);
          if (id in target) {
            problems.push({
              severity: 'error',
              message: `${SINGULAR[section] ?? section} "${id}" is defined twice: here and at ${fmt(owner.get(ptr))}`,
              path: `${section}.${id}`,
              ...(loc?.key ?? loc?.value),
            });
            continue;
          }
          target[id] = entry;
          owner.set(ptr, loc?.key ?? loc?.value);
          copyLocations(file, ptr, ptr);
        }
      } else if ((LIST_SECTIONS as readonly string[]).includes(section) && Array.isArray(value)) {
        const target = (Array.isArray(data[section]) ? data[section] : (data[section] = [])) as unknown[];
        if (!locations.has(sectionPtr)) locations.set(sectionPtr, sectionLoc!);
        value.forEach((item, i) => {
          copyLocations(file, pointer([section, i]), pointer([section, target.length]));
          target.push(item);
        });
      } else if (section === 'version' && section in data && data[section] === value) {
        continue;
      } else if (section in data) {
        problems.push({
          severity: 'error',
          message: `section "${section}" is defined in more than one file: here and at ${fmt(owner.get(sectionPtr))}`,
          path: section,
          ...(sectionLoc?.key ?? sectionLoc?.value),
        });
      } else {
        data[section] = value;
        owner.set(sectionPtr, sectionLoc?.key ?? sectionLoc?.value);
        copyLocations(file, sectionPtr, sectionPtr);
      }
    }
  }
  return { data, locations, problems };
}

/** The one- and two-segment prefixes of a JSON pointer (`/a/b/c` → `/a`, `/a/b`): what copyLocations looks up. */
function prefixKeys(ptr: string): string[] {
  const first = ptr.indexOf('/', 1);
  if (ptr === '') return [];
  if (first < 0) return [ptr];
  const second = ptr.indexOf('/', first + 1);
  return [ptr.slice(0, first), second < 0 ? ptr : ptr.slice(0, second)];
}

/** The best source location for a JSON pointer: the deepest known prefix. */
export function locate(locations: Map<string, NodeLocation>, ptr: string, preferKey = false): SourceLocation | undefined {
  let p = ptr;
  for (;;) {
    const loc = locations.get(p);
    if (loc) return preferKey ? (loc.key ?? loc.value) : loc.value;
    if (p === '') return undefined;
    p = p.slice(0, p.lastIndexOf('/'));
  }
}
