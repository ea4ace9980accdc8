// A variable that is set but empty, as POSIX shells read it: `${VAR}` takes the empty value,
// `${VAR:-default}` and `${VAR:?message}` treat it as unset.
import { describe, expect, it } from 'vitest';
import { interpolate } from '../../src/config/interpolate.js';
import { loadFromSources } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';

const env = { EMPTY: '' };

describe('set but empty', () => {
  it('${VAR} is the empty value, not an error', () => {
    expect(interpolate('prefix-${EMPTY}-suffix', env)).toMatchObject({ value: 'prefix--suffix', errors: [], usedVars: ['EMPTY'] });
    expect(interpolate('${EMPTY}', env, { skipEnv: true })).toMatchObject({ value: '', errors: [], unresolved: [] });
  });

  it('${VAR:-default} uses the default', () => {
    expect(interpolate('${EMPTY:-fallback}', env)).toMatchObject({ value: 'fallback', errors: [] });
  });

  it('${VAR:?message} says the variable is set but empty (and unset ones are still "not set")', () => {
    expect(interpolate('${EMPTY:?ask the platform team}', env).errors).toEqual(['environment variable EMPTY is set but empty: ask the platform team']);
    expect(interpolate('${UNSET:?ask the platform team}', env).errors).toEqual(['environment variable UNSET is not set: ask the platform team']);
    expect(interpolate('${UNSET}', env).errors).toEqual(['environment variable UNSET is not set (use ${UNSET:-default} for a default)']);
  });

  it('through the loader: an empty ${VAR} loads', () => {
    const text = 'version: 1\nstore:\n  path: "/var/lib/mailroom${SUFFIX}"\n';
    const r = loadFromSources([{ name: 'mem.yaml', absolute: '/mem.yaml', text }], { env: { SUFFIX: '' } });
    expect(r.problems.map(formatProblem)).toEqual([]);
    expect(r.snapshot!.store.path).toBe('/var/lib/mailroom');
  });
});
