// `mailroom explain`: effective outbound settings for a company/contract/workflow, or a mailbox's inbound side.
import { contractOwners, explainMailbox, explainOutbound, formatExplanation } from '../config/explain.js';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import { UsageError } from './usage.js';

export async function explainCommand(
  opts: { config: string; company?: string; contract?: string; workflow?: string; mailbox?: string; kind?: string; skipEnv: boolean },
  out: (s: string) => void,
): Promise<number> {
  if (!opts.company && !opts.mailbox) throw new UsageError('explain needs --company or --mailbox');
  if (opts.kind && opts.kind !== 'user' && opts.kind !== 'system') throw new UsageError('--kind is user or system');
  const r = await loadConfig(opts.config, { skipEnv: opts.skipEnv });
  if (!r.snapshot) {
    for (const p of r.problems) out(formatProblem(p));
    return 1;
  }
  const snap = r.snapshot;
  for (const [flag, id, exists] of [
    ['--company', opts.company, opts.company ? opts.company in snap.companies : true],
    ['--mailbox', opts.mailbox, opts.mailbox ? opts.mailbox in snap.mailboxes : true],
    ['--workflow', opts.workflow, opts.workflow ? opts.workflow in snap.workflows : true],
  ] as const) {
    if (!exists) {
      out(`error: ${flag} ${id} is not defined in ${opts.config}`);
      return 1;
    }
  }
  if (opts.contract && opts.company && !(opts.contract in (snap.companies[opts.company]?.contracts ?? {}))) {
    const owners = contractOwners(snap, opts.contract);
    out(
      owners.length
        ? `error: contract ${opts.contract} belongs to company ${owners.join(', ')}, not ${opts.company} (contracts are not inherited through extends)`
        : `error: --contract ${opts.contract} is not defined in ${opts.config}`,
    );
    return 1;
  }
  if (!opts.company && opts.mailbox) {
    out(formatExplanation(explainMailbox(snap, opts.mailbox)!));
    return 0;
  }
  out(
    formatExplanation(
      explainOutbound(snap, { company: opts.company, contract: opts.contract, workflow: opts.workflow, mailbox: opts.mailbox, kind: (opts.kind as 'user' | 'system') ?? 'user' }),
    ),
  );
  return 0;
}
