// Every broken-config fixture yields exactly the problems in its expected.txt (so a fixture also
// proves nothing extra is reported), printed as `check` prints them, paths relative to the repo root.
// A fixture is a directory of YAML files; `env.json` (optional) is the environment it is loaded with.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = 'test/fixtures/config';

function fixtures(kind: 'broken' | 'warnings'): string[] {
  return readdirSync(join(ROOT, FIXTURES, kind), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

async function load(dir: string) {
  const envFile = join(dir, 'env.json');
  const env = existsSync(envFile) ? (JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, string>) : {};
  return loadConfig(dir, { env });
}

const expected = (dir: string) => readFileSync(join(dir, 'expected.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '');

beforeAll(() => {
  // Problems name files relative to the working directory, and expected.txt relative to the repo root.
  process.chdir(ROOT);
});

describe('broken configs', () => {
  const names = fixtures('broken');

  it('has a fixture for every check (at least 25)', () => {
    expect(names.length).toBeGreaterThanOrEqual(25);
  });

  it.each(names)('%s', async (name) => {
    const dir = `${FIXTURES}/broken/${name}`;
    const r = await load(dir);
    const lines = expected(dir);
    expect(lines.length).toBeGreaterThan(0);
    expect(r.problems.map(formatProblem)).toEqual(lines);
    expect(r.snapshot).toBeNull();
    for (const p of r.problems) {
      expect(p.severity).toBe('error');
      expect(p.file, formatProblem(p)).toMatch(new RegExp(`^${FIXTURES}/broken/${name}/`));
      expect(p.line).toBeGreaterThanOrEqual(1);
      expect(p.col).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('configs with warnings only', () => {
  const names = fixtures('warnings');

  it('has fixtures', () => {
    expect(names).toEqual(expect.arrayContaining(['inline-password', 'verify-certificate-false']));
  });

  it.each(names)('%s', async (name) => {
    const dir = `${FIXTURES}/warnings/${name}`;
    const r = await load(dir);
    expect(r.problems.map(formatProblem)).toEqual(expected(dir));
    expect(r.problems.every((p) => p.severity === 'warning')).toBe(true);
    expect(r.snapshot).not.toBeNull();
    expect(r.snapshot!.warnings.map(formatProblem)).toEqual(expected(dir));
  });
});
