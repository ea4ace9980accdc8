// CLI entry: parses arguments and dispatches to the commands (run, check, explain, diff, route,
// webhook, test-mailbox, store), their help (`<command> --help`, `help <command>`) and --version.
import { parseArgs } from 'node:util';
import { checkCommand } from './cli/check.js';
import { diffCommand } from './cli/diff.js';
import { explainCommand } from './cli/explain.js';
import { routeCommand } from './cli/route.js';
import { runCommand } from './cli/run.js';
import { storeCommand } from './cli/store.js';
import { testMailboxCommand } from './cli/test-mailbox.js';
import { webhookCommand } from './cli/webhook.js';
import { USAGE, UsageError, commandHelp } from './cli/usage.js';
import { version } from './cli/version.js';

export const OPTIONS = {
  config: { type: 'string', short: 'c' },
  against: { type: 'string' },
  strict: { type: 'boolean', default: false },
  format: { type: 'string', default: 'text' },
  'skip-env': { type: 'boolean', default: false },
  company: { type: 'string' },
  contract: { type: 'string' },
  workflow: { type: 'string' },
  mailbox: { type: 'string' },
  kind: { type: 'string' },
  at: { type: 'string' },
  'send-to': { type: 'string' },
  webhook: { type: 'string' },
  delivery: { type: 'string' },
  url: { type: 'string' },
  'token-file': { type: 'string' },
  from: { type: 'string' },
  'no-watch': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'V', default: false },
} as const;

export async function main(argv: string[], out = (s: string) => console.log(s), err = (s: string) => console.error(s)): Promise<number | undefined> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    const [command] = positionals;
    if (values.version) {
      out(version());
      return 0;
    }
    if (command === 'help') {
      const topic = positionals[1];
      if (!topic) {
        out(USAGE);
        return 0;
      }
      const help = commandHelp(topic);
      if (!help) throw new UsageError(`unknown command "${topic}"`);
      out(help);
      return 0;
    }
    if (values.help || !command) {
      const help = command ? commandHelp(command) : null;
      if (command && !help) throw new UsageError(`unknown command "${command}"`);
      out(help ?? USAGE);
      return values.help ? 0 : 2;
    }
    const need = (name: 'config' | 'against'): string => {
      const v = values[name];
      if (!v) throw new UsageError(`${command} needs --${name}`);
      return v;
    };
    const format = values.format === 'json' ? 'json' : values.format === 'text' ? 'text' : null;
    if (!format) throw new UsageError('--format is text or json');
    switch (command) {
      case 'run':
        return await runCommand({ config: need('config'), watch: !values['no-watch'] }, err);
      case 'check':
        return await checkCommand({ config: need('config'), strict: values.strict, format, skipEnv: values['skip-env'] }, out);
      case 'explain':
        return await explainCommand({ config: need('config'), ...values, skipEnv: values['skip-env'] }, out);
      case 'diff':
        return await diffCommand({ config: need('config'), against: need('against'), skipEnv: values['skip-env'], format }, out);
      case 'webhook':
        return await webhookCommand({ sub: positionals[1], config: need('config'), ...(values.webhook && { webhook: values.webhook }), ...(values.delivery && { delivery: values.delivery }), ...(values.url && { url: values.url }), ...(values['token-file'] && { tokenFile: values['token-file'] }), skipEnv: values['skip-env'] }, out);
      case 'store':
        return await storeCommand({ sub: positionals[1], config: need('config'), ...(values.from !== undefined && { from: values.from }), format }, out);
      case 'route':
        return await routeCommand({ config: need('config'), ...(values.mailbox && { mailbox: values.mailbox }), ...(values.at && { at: values.at }), files: positionals.slice(1), skipEnv: values['skip-env'], format }, out);
      case 'test-mailbox': {
        const mailbox = positionals[1];
        if (!mailbox || positionals.length > 2) throw new UsageError('test-mailbox needs exactly one mailbox id');
        return await testMailboxCommand({ config: need('config'), mailbox, ...(values['send-to'] && { sendTo: values['send-to'] }), skipEnv: values['skip-env'] }, out);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      // A known command's own help (its flags) says more than the global list.
      const command = argv.find((a) => !a.startsWith('-'));
      err(`mailroom: ${(e as Error).message}\n\n${(command && commandHelp(command)) || USAGE}`);
      return 2;
    }
    throw e;
  }
}
