// Command-line usage text and the usage error (exit code 2).
export const USAGE = `mailroom — configuration-as-code mailroom for multi-tenant platforms

Usage:
  mailroom run     --config <file|dir> [--no-watch]   (reload on change, SIGHUP, POST /-/reload)
  mailroom check   --config <file|dir> [--strict] [--format text|json] [--skip-env]
  mailroom explain --config <file|dir> --company <id> [--contract <id>] [--workflow <id>] [--mailbox <id>] [--kind user|system]
  mailroom explain --config <file|dir> --mailbox <id>
  mailroom diff    --config <new> --against <old>
  mailroom webhook replay --config <file|dir> --webhook <id> [--delivery <id>] [--token-file <f>]   (token: MAILROOM_API_TOKEN)
  mailroom webhook status --config <file|dir>
  mailroom route   --config <file|dir> [--mailbox <id>] [--at <ISO time>] [--format text|json] <file.eml>...
  mailroom test-mailbox --config <file|dir> <mailbox> [--send-to <address>]

Exit codes: 0 ok, 1 invalid configuration or failure, 2 usage error.`;

export class UsageError extends Error {}
