// Finds the YAML files of a config path: one file, or a directory walked recursively.
// Names starting with `.` (editor temp files, Kubernetes ConfigMap `..data` internals) are skipped.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';

export interface SourceFile {
  /** Path as printed in problems: relative to the working directory when inside it. */
  name: string;
  absolute: string;
  /** Path relative to the config root (a single file: its base name). The content hash covers this,
   * not `name`, so `check` in CI and the daemon in its container agree whatever the mount path. */
  relative?: string;
  text: string;
}

const YAML_FILE = /\.ya?ml$/i;

export async function listConfigFiles(path: string): Promise<string[]> {
  const abs = resolve(path);
  const st = await stat(abs); // throws ENOENT: the caller reports it
  if (st.isFile()) return [abs];
  const out: string[] = [];
  await walk(abs, out);
  return out.sort((a, b) => relative(abs, a).localeCompare(relative(abs, b)));
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    // Follow symlinks (ConfigMap mounts are symlinks into ..data).
    const st = await stat(full).catch(() => null);
    if (!st) continue;
    if (st.isDirectory()) await walk(full, out);
    else if (st.isFile() && YAML_FILE.test(e.name)) out.push(full);
  }
}

export function displayName(absolute: string): string {
  const rel = relative(process.cwd(), absolute);
  return rel && !rel.startsWith('..') ? rel : absolute;
}

export async function readSources(path: string): Promise<SourceFile[]> {
  const files = await listConfigFiles(path);
  const root = resolve(path);
  return Promise.all(
    files.map(async (absolute) => ({
      absolute,
      name: displayName(absolute),
      relative: absolute === root ? basename(absolute) : relative(root, absolute).split(sep).join('/'),
      text: await readFile(absolute, 'utf8'),
    })),
  );
}
