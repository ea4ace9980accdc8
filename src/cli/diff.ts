// `mailroom diff`: what a config change adds, changes and removes (the diff a reload applies).
import { diffSnapshots, formatChange } from '../config/diff.js';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';

export async function diffCommand(opts: { config: string; against: string; skipEnv: boolean; format: 'text' | 'json' }, out: (s: string) => void): Promise<number> {
  const [after, before] = await Promise.all([loadConfig(opts.config, { skipEnv: opts.skipEnv }), loadConfig(opts.against, { skipEnv: opts.skipEnv })]);
  for (const [label, r] of [['new', after], ['old', before]] as const) {
    if (!r.snapshot) {
      out(`${label} config (${label === 'new' ? opts.config : opts.against}) is invalid:`);
      for (const p of r.problems) out(formatProblem(p));
      return 1;
    }
  }
  const changes = diffSnapshots(before.snapshot!, after.snapshot!);
  if (opts.format === 'json') out(JSON.stringify({ changes }, null, 2));
  else if (changes.length === 0) out('no changes');
  else for (const c of changes) out(formatChange(c));
  return 0;
}
