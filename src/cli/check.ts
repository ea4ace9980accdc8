// `mailroom check`: validate a config for CI on a GitOps pull request; every problem at once.
import { loadConfig } from '../config/load.js';
import { formatProblem, hasErrors } from '../config/problems.js';

export async function checkCommand(opts: { config: string; strict: boolean; format: 'text' | 'json'; skipEnv: boolean }, out: (s: string) => void): Promise<number> {
  const r = await loadConfig(opts.config, { skipEnv: opts.skipEnv });
  const failed = hasErrors(r.problems) || (opts.strict && r.problems.length > 0);
  if (opts.format === 'json') {
    out(JSON.stringify({ ok: !failed, hash: r.hash, problems: r.problems }, null, 2));
  } else {
    for (const p of r.problems) out(formatProblem(p));
    const errors = r.problems.filter((p) => p.severity === 'error').length;
    const warnings = r.problems.length - errors;
    out(failed ? `${opts.config}: ${errors} error(s), ${warnings} warning(s)` : `${opts.config}: ok${warnings ? ` (${warnings} warning(s))` : ''} — ${r.snapshot?.files.length ?? 0} file(s), hash ${r.hash?.slice(0, 12)}`);
  }
  return failed ? 1 : 0;
}
