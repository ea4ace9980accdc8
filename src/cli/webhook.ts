// `mailroom webhook replay`: ask the running daemon to redeliver dead letters (the store belongs to
// the daemon while it runs, so this goes through its API). The token comes from
// MAILROOM_API_TOKEN or --token-file, never from the command line (it would show in `ps`).
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import { UsageError } from './usage.js';

export async function webhookCommand(
  opts: { sub: string | undefined; config: string; webhook?: string; delivery?: string; url?: string; tokenFile?: string; skipEnv: boolean },
  out: (s: string) => void,
): Promise<number> {
  if (opts.sub !== 'replay' && opts.sub !== 'status') throw new UsageError('webhook takes a subcommand: replay | status');
  if (opts.sub === 'replay' && !opts.webhook) throw new UsageError('webhook replay needs --webhook <id>');
  // `--delivery "$UNSET"` must not silently mean "every dead letter"
  if (opts.delivery !== undefined && opts.delivery.trim() === '') throw new UsageError('--delivery needs a delivery id (leave it out to replay every dead letter)');
  const r = await loadConfig(opts.config, { skipEnv: opts.skipEnv });
  if (!r.snapshot) {
    for (const p of r.problems) out(formatProblem(p));
    return 1;
  }
  const listen = r.snapshot.server.listen;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const base = (opts.url ?? `http://${host.includes(':') ? `[${host}]` : host}:${listen.port}`).replace(/\/$/, '');
  const token = opts.tokenFile ? (await readFile(opts.tokenFile, 'utf8')).trim() : process.env.MAILROOM_API_TOKEN;
  if (!token) throw new UsageError('set MAILROOM_API_TOKEN or pass --token-file (a token with companies ["*"])');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  let res: Response;
  try {
    res =
      opts.sub === 'replay'
        ? await fetch(`${base}/v1/webhooks/${encodeURIComponent(opts.webhook!)}/replay`, { method: 'POST', headers, body: JSON.stringify(opts.delivery !== undefined ? { delivery: opts.delivery } : {}) })
        : await fetch(`${base}/v1/webhooks`, { headers });
  } catch (e) {
    out(`error: cannot reach the daemon at ${base} (${(e as Error).message}); is it running?`);
    return 1;
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    out(`error: ${res.status} ${String(body.error ?? '')}`);
    return 1;
  }
  out(opts.sub === 'replay' ? `${String(body.replayed)} dead letter(s) queued again for webhook ${opts.webhook}` : JSON.stringify(body, null, 2));
  return 0;
}
