// `mailroom --version`: the version in package.json (one level above src/ and dist/, so the same
// path works from the sources under tsx and from the compiled dist/ of a package or an image).
import { readFileSync } from 'node:fs';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
