// Command-line help: the global usage, each command's own help (`mailroom <command> --help`,
// `mailroom help <command>`), and the usage error (exit code 2). One table, so the global list and
// the per-command help cannot disagree.

interface CommandHelp {
  /** Synopsis lines, without the leading `mailroom `. */
  usage: string[];
  /** What the command does, a few lines. */
  summary: string;
  /** [flag, what it does]; every command but `help` also takes --help. */
  options: [string, string][];
}

const CONFIG: [string, string] = ['--config, -c <file|dir>', 'The configuration: one YAML file, or a directory read recursively (*.yaml, *.yml; names starting with "." are skipped).'];
const SKIP_ENV: [string, string] = ['--skip-env', 'Leave ${VAR} placeholders whose variable is not set as written instead of failing, and do not check them further: for CI on a pull request, where the secrets do not exist.'];
const FORMAT: [string, string] = ['--format text|json', 'Output for people (default) or for programs.'];

export const COMMANDS: Record<string, CommandHelp> = {
  run: {
    usage: ['run --config <file|dir> [--no-watch]'],
    summary: 'Run the daemon: read the inbound mailboxes, send the outbox, serve the API and /metrics. Refuses to start on an invalid config (exit 1, every problem printed). Reloads on a config change, SIGHUP or POST /-/reload; SIGTERM/SIGINT stop it.',
    options: [CONFIG, ['--no-watch', 'Do not watch the config path for changes; reload only on SIGHUP or POST /-/reload.']],
  },
  check: {
    usage: ['check --config <file|dir> [--strict] [--format text|json] [--skip-env]'],
    summary: 'Validate a config and print every problem at once as file:line:col: severity: message. Exit 0 valid, 1 invalid.',
    options: [CONFIG, ['--strict', 'Fail (exit 1) on warnings too: verifyCertificate: false, a secret written inline, ...'], FORMAT, SKIP_ENV],
  },
  explain: {
    usage: ['explain --config <file|dir> --company <id> [--contract <id>] [--workflow <id>] [--mailbox <id>] [--kind user|system]', 'explain --config <file|dir> --mailbox <id>'],
    summary: 'Show the settings a message would be sent with, each field with the layer and file:line it came from (global default → company → contract → workflow → explicit mailbox); with --mailbox alone, that mailbox\'s inbound side. Secrets are never printed.',
    options: [
      CONFIG,
      ['--company <id>', 'The company the message is sent for.'],
      ['--contract <id>', 'A contract of that company (contracts are not inherited through extends).'],
      ['--workflow <id>', 'The workflow sending it (its outbound: contract, default or a mailbox).'],
      ['--mailbox <id>', 'An explicit mailbox (with --company), or the mailbox whose inbound side to show (alone).'],
      ['--kind user|system', 'system: mail no user sent (password reset, connection test); skips the contract and workflow layers.'],
      SKIP_ENV,
    ],
  },
  diff: {
    usage: ['diff --config <new> --against <old> [--format text|json] [--skip-env]'],
    summary: 'List what the new config adds (+), changes (~, with the changed fields) and removes (-): mailboxes, companies, contracts, routes, webhooks, workflows, schedules, defaults, server, store. The same diff the daemon applies on reload.',
    options: [['--config, -c <file|dir>', 'The new configuration.'], ['--against <file|dir>', 'The old configuration (e.g. a checkout of the main branch).'], FORMAT, SKIP_ENV],
  },
  route: {
    usage: ['route --config <file|dir> [--mailbox <id>] [--at <ISO time>] [--format text|json] <file.eml>...'],
    summary: 'Dry run of the routing rules for .eml files: which routes match and the ticket that would result. No store, no network.',
    options: [
      CONFIG,
      ['--mailbox <id>', 'The inbound mailbox the mail arrives on (needed when the config has more than one).'],
      ['--at <ISO time>', 'Evaluate schedules (business hours) at this time instead of now, e.g. 2026-11-23T23:00:00Z.'],
      FORMAT,
      SKIP_ENV,
    ],
  },
  webhook: {
    usage: ['webhook replay --config <file|dir> --webhook <id> [--delivery <id>] [--url <base>] [--token-file <f>]', 'webhook status --config <file|dir> [--url <base>] [--token-file <f>]'],
    summary: 'Talk to the running daemon: replay dead-lettered webhook deliveries, or show the webhooks\' queues. The API token comes from MAILROOM_API_TOKEN or --token-file (an admin token, companies ["*"]), never from the command line.',
    options: [
      CONFIG,
      ['--webhook <id>', 'replay: the webhook whose dead letters to queue again.'],
      ['--delivery <id>', 'replay: only this delivery (default: every dead letter of the webhook).'],
      ['--url <base>', 'The daemon\'s base URL (default: from server.listen in the config).'],
      ['--token-file <file>', 'Read the API token from this file instead of MAILROOM_API_TOKEN.'],
      SKIP_ENV,
    ],
  },
  store: {
    usage: ['store migrate --config <file|dir> [--format text|json]', 'store import --from <embedded store path> --config <file|dir> [--format text|json]'],
    summary:
      'Move to the PostgreSQL store (store.driver: postgres in --config; any other driver is refused). migrate applies the PostgreSQL migrations without starting the daemon (a second run applies nothing). import moves an embedded store (store.driver: lowdb) into it: tickets with their ids and articles, blobs, dedupe keys, Message-IDs, checkpoints, UIDLs, pending server actions, webhook deliveries and dead letters, the outbox, suspensions with their fingerprint key, OAuth state and rate counters; it prints what it moved per kind and what was already there. Re-runnable: a second run adds nothing. Stop the daemon on the embedded store first (its LOCK makes the import refuse).',
    options: [
      ['--config, -c <file|dir>', 'The configuration whose store: is the PostgreSQL store (the URL, urlFile or ${ENV} read as the daemon reads it).'],
      ['--from <path>', 'import: the embedded store directory (the old store.path, e.g. ./data).'],
      FORMAT,
    ],
  },
  'test-mailbox': {
    usage: ['test-mailbox --config <file|dir> <mailbox> [--send-to <address>]'],
    summary: 'Check a mailbox step by step (DNS, TCP, TLS and the certificate, authentication, the folder) and print what to fix. `default` tests the global defaults.outbound. Exit 1 when a step fails.',
    options: [CONFIG, ['<mailbox>', 'The mailbox id (or default).'], ['--send-to <address>', 'Also send a test message through the mailbox\'s outbound side to this address.'], SKIP_ENV],
  },
};

/** Words of `text` in lines of at most `width` characters, the lines after the first indented by `indent`. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

const pad = (rows: [string, string][]) => {
  const width = Math.max(...rows.map(([f]) => f.length));
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${wrap(d, Math.max(40, 100 - width - 4), width + 4)}`).join('\n');
};

/** The global usage: every command's synopsis. */
export const USAGE = `mailroom — configuration-as-code mailroom for multi-tenant platforms

Usage:
${Object.values(COMMANDS).flatMap((c) => c.usage).map((u) => `  mailroom ${u}`).join('\n')}
  mailroom help <command>        (or mailroom <command> --help)
  mailroom --version

Exit codes: 0 ok, 1 invalid configuration or failure, 2 usage error.`;

/** One command's help, or null for an unknown command. */
export function commandHelp(name: string): string | null {
  const c = COMMANDS[name];
  if (!c) return null;
  return `Usage:\n${c.usage.map((u) => `  mailroom ${u}`).join('\n')}\n\n${wrap(c.summary, 100, 0)}\n\nOptions:\n${pad([...c.options, ['--help, -h', 'Show this help.']])}\n\nExit codes: 0 ok, 1 invalid configuration or failure, 2 usage error.`;
}

export class UsageError extends Error {}
