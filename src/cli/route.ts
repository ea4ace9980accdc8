// `mailroom route`: dry run of routing for .eml files — which routes match and the ticket that
// would result — so a routing change can be tested in CI before it merges. No store, no network.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import { decide } from '../ingest/decide.js';
import { parseMessage } from '../ingest/parse.js';
import { UsageError } from './usage.js';

export async function routeCommand(opts: { config: string; mailbox?: string; files: string[]; at?: string; skipEnv: boolean; format: 'text' | 'json' }, out: (s: string) => void): Promise<number> {
  if (opts.files.length === 0) throw new UsageError('route needs at least one .eml file');
  const r = await loadConfig(opts.config, { skipEnv: opts.skipEnv });
  if (!r.snapshot) {
    for (const p of r.problems) out(formatProblem(p));
    return 1;
  }
  const snap = r.snapshot;
  const inbound = Object.values(snap.mailboxes).filter((m) => m.inbound);
  const mailbox = opts.mailbox ?? (inbound.length === 1 ? inbound[0]!.id : undefined);
  if (!mailbox) throw new UsageError(`route needs --mailbox (one of: ${inbound.map((m) => m.id).join(', ')})`);
  if (!snap.mailboxes[mailbox]) {
    out(`error: --mailbox ${mailbox} is not defined in ${opts.config}`);
    return 1;
  }
  const now = opts.at !== undefined ? parseAt(opts.at) : new Date();
  const results = [];
  for (const file of opts.files) {
    let raw: Buffer;
    try {
      raw = await readFile(file);
    } catch (e) {
      out(`error: cannot read ${file} (${(e as NodeJS.ErrnoException).code})`);
      return 1;
    }
    const parsed = await parseMessage(raw);
    const d = decide({ snap, mailboxId: mailbox, parsed, now });
    const { reasons, ...ticket } = d.ticket;
    results.push({ file, subject: parsed.subject, from: parsed.from?.address ?? null, routes: d.matchedRoutes, flags: d.flags, deliver: d.deliver, drop: d.drop, ticket, reasons });
  }
  if (opts.format === 'json') out(JSON.stringify(results, null, 2));
  else
    for (const x of results) {
      out(`${x.file}: "${x.subject}" from ${x.from ?? '(no sender)'}`);
      out(`  routes:  ${x.routes.length ? x.routes.join(' → ') : '(none matched)'}`);
      out(`  ticket:  company ${x.ticket.company}, contract ${x.ticket.contract ?? '-'}, status ${x.ticket.status}` + ['type', 'group', 'priority'].map((k) => ((x.ticket as Record<string, unknown>)[k] ? `, ${k} ${(x.ticket as Record<string, unknown>)[k]}` : '')).join(''));
      if (x.ticket.tags?.length) out(`  tags:    ${x.ticket.tags.join(', ')}`);
      for (const [k, v] of Object.entries(x.ticket.fields ?? {})) out(`  field ${k}: ${JSON.stringify(v.length > 80 ? v.slice(0, 77) + '...' : v)}`);
      out(`  deliver: ${x.drop ? `dropped (${x.drop})` : x.deliver.join(', ')}`);
      if (x.flags.length) out(`  marked:  ${x.flags.join(', ')}`);
      for (const reason of x.reasons) out(`  · ${reason}`);
    }
  return 0;
}

/** `--at` must name one instant: an ISO 8601 date-time WITH its offset (`Z` or `±hh:mm`). Without
 * one, JavaScript would read it in the machine's timezone and a CI run would depend on where it runs. */
function parseAt(at: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.exec(at.trim());
  const d = new Date(at.trim());
  if (!m) throw new UsageError(`--at ${at}: expected an ISO date-time with an offset, e.g. 2026-05-04T20:00:00-03:00 or 2026-05-04T23:00:00Z`);
  if (Number.isNaN(d.getTime()) || !isCalendarDate(m.slice(1, 7).map((f) => Number(f ?? 0)))) throw new UsageError(`--at ${at}: not a valid date-time`);
  return d;
}

/** Whether the written fields name a real date and time: Date reads 2026-02-30 as 2 March and
 * 24:30 as the next day, where a typo in CI should be an error rather than another day's answer. */
function isCalendarDate([y, mo, d, h, mi, s]: number[]): boolean {
  const t = new Date(Date.UTC(y!, mo! - 1, d, h, mi, s));
  return t.getUTCMonth() === mo! - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}
