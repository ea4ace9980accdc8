// Help as a newcomer reads it: `mailroom <command> --help` and `mailroom help <command>` print that
// command's own usage and explain each of its flags (not the global list); `--version` prints
// package.json's version; every flag the parser accepts is explained somewhere.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS, USAGE } from '../../src/cli/usage.js';
import { OPTIONS, main } from '../../src/main.js';

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, text: out.join('\n'), err: err.join('\n') };
}

const names = Object.keys(COMMANDS);

describe('per-command help', () => {
  it.each(names)('%s --help: exit 0, its own usage and options only', async (name) => {
    const r = await run(name, '--help');
    expect(r.code).toBe(0);
    expect(r.text).toContain(`mailroom ${name} `);
    expect(r.text).toContain('Options:');
    for (const other of names.filter((n) => n !== name && !n.startsWith(name) && !name.startsWith(n))) expect(r.text).not.toContain(`mailroom ${other} `);
    expect(r.text).not.toBe(USAGE);
  });

  it.each(names)('help %s prints the same as %s --help', async (name) => {
    const a = await run('help', name);
    expect(a.code).toBe(0);
    expect(a.text).toBe((await run(name, '--help')).text);
    expect((await run(name, '-h')).text).toBe(a.text);
  });

  it('explains --strict, --skip-env and --no-watch where they apply', async () => {
    const line = async (command: string, flag: string) => (await run('help', command)).text.split('\n').find((l) => l.trimStart().startsWith(flag)) ?? '';
    expect(await line('check', '--strict')).toMatch(/--strict\s+Fail \(exit 1\) on warnings too/);
    expect(await line('check', '--skip-env')).toMatch(/--skip-env\s+Leave \$\{VAR\} placeholders whose variable is not set/);
    expect(await line('run', '--no-watch')).toMatch(/--no-watch\s+Do not watch the config path/);
  });

  it('every flag the parser accepts is explained in some command\'s help', async () => {
    const all = (await Promise.all(names.map((n) => run('help', n)))).map((r) => r.text).join('\n');
    for (const flag of Object.keys(OPTIONS).filter((f) => f !== 'version')) expect(all, flag).toMatch(new RegExp(`^\\s+--${flag}\\b`, 'm'));
    expect(USAGE).toContain('mailroom --version');
  });

  it('help alone prints the global usage (exit 0); an unknown command is a usage error (exit 2)', async () => {
    expect(await run('help')).toMatchObject({ code: 0, text: USAGE });
    const unknown = await run('help', 'frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "frobnicate"');
    expect((await run('frobnicate', '--help')).code).toBe(2);
  });

  it('a usage error of a command shows that command\'s help', async () => {
    const r = await run('diff', '--config', 'config/');
    expect(r.code).toBe(2);
    expect(r.err).toContain('mailroom: diff needs --against');
    expect(r.err).toContain('--against <file|dir>');
  });

  it('the global usage lists every command and points to the per-command help', () => {
    for (const name of names) expect(USAGE).toContain(`mailroom ${name} `);
    expect(USAGE).toContain('mailroom help <command>');
  });
});

describe('--version', () => {
  it('prints the version in package.json, exit 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await run(flag)).toMatchObject({ code: 0, text: version });
  });
});
