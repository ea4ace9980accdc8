// Merging the files of a config directory: empty sections and the places named when a section is
// given twice, whatever the file order.
import { describe, expect, it } from 'vitest';
import { loadFromSources } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';

const load = (files: Record<string, string>) =>
  loadFromSources(
    Object.entries({ ...files, 'version.yaml': 'version: 1\n' }).map(([name, text]) => ({ name, absolute: `/cfg/${name}`, text })),
    { env: {} },
  );

const ACME = 'companies:\n  acme: { name: Acme }\n';

describe('merging sections across files', () => {
  it.each([
    ['after', { 'a.yaml': ACME, 'b.yaml': '# all companies moved to a.yaml\ncompanies:\nroutes:\n' }],
    ['before', { 'a.yaml': 'companies:\nroutes:\n', 'b.yaml': ACME }],
  ])('an empty (null) map or list section %s the real one adds nothing', (_order, files) => {
    const r = load(files);
    expect(r.problems.map(formatProblem)).toEqual([]);
    expect(Object.keys(r.snapshot!.companies)).toEqual(['acme']);
    expect(r.snapshot!.routes).toEqual([]);
  });

  it('a section of the wrong kind in a second file names both places', () => {
    const r = load({ 'a.yaml': `version: 1\n${ACME}`, 'b.yaml': 'companies: [acme]\n' });
    expect(r.problems.map(formatProblem)).toEqual(['b.yaml:1:1: error: section "companies" is defined in more than one file: here and at a.yaml:2:1']);
  });
});
