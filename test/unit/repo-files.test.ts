// What a newcomer reads first must be true: the LICENSE is the license package.json declares, and
// README's Layout paragraph names every folder under src/ (a new folder fails here until it is listed).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

describe('repository files', () => {
  it('LICENSE is the MIT license package.json declares', () => {
    expect((JSON.parse(read('package.json')) as { license: string }).license).toBe('MIT');
    const license = read('LICENSE');
    expect(license.split('\n')[0]).toBe('MIT License');
    expect(license).toMatch(/^Copyright \(c\) \d{4} /m);
    expect(license).toContain('Permission is hereby granted, free of charge, to any person obtaining a copy');
  });

  it("README's Layout paragraph names every folder under src/", () => {
    const readme = read('README.md');
    const start = readme.indexOf('\nLayout: ');
    expect(start).toBeGreaterThan(0);
    const layout = readme.slice(start, readme.indexOf('\n\n', start + 1) === -1 ? undefined : readme.indexOf('\n\n', start + 1)).replace(/\s+/g, ' ');
    const dirs = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(dirs.length).toBeGreaterThan(5);
    for (const dir of dirs) expect(layout, `src/${dir}`).toMatch(new RegExp(`\`src/${dir}[\`/]`));
  });
});
