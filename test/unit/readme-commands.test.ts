// Every command in README.md's fenced `sh` blocks that can run offline runs here, as written
// (`bash -c` in the repository root, so globs and comments work as in a terminal), and must exit 0.
// The others (installing, starting the daemon, curl against a running one) are listed with the
// reason they are not run, so a new README command is either run here or skipped on purpose.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Commands of the README's ```sh blocks: `\`-continued lines and lines inside a '…' string joined. */
function shCommands(markdown: string): string[] {
  const out: string[] = [];
  for (const [, body] of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    let pending = '';
    for (const line of body!.split('\n')) {
      if (/\\\s*$/.test(line)) {
        pending += line.replace(/\\\s*$/, ' ');
        continue;
      }
      if ((pending + line).split("'").length % 2 === 0) {
        pending += `${line}\n`; // an open single-quoted string continues on the next line
        continue;
      }
      const command = (pending + line).trim();
      pending = '';
      if (command && !command.startsWith('#')) out.push(command);
    }
  }
  return out;
}

/** What is not run here, and why. */
const NOT_RUN: [RegExp, string][] = [
  [/^npm (ci|start|test)\b/, 'installs the dependencies, starts the daemon or runs this suite'],
  [/^npm run (build|gen|bench:\w+|sandbox)\b/, 'builds, regenerates or benchmarks (minutes, and writes files)'],
  [/^npx mailroom run\b/, 'starts the daemon, which runs until a signal'],
  [/^(\w+=\S+ )*npm start\b/, 'starts the daemon'],
  [/^curl\b/, 'talks to a running daemon'],
  [/^\(umask 077; openssl rand\b/, "writes a token into the user's home directory"],
  [/^apt-get\b/, 'installs system packages'],
  [/^npx mailroom store (migrate|import)\b/, 'needs a PostgreSQL server (test/integration/store-import.test.ts runs both against one)'],
];
const RUN = /^npx mailroom (check|explain|diff|route|help)\b|^npx mailroom \S+ --help\b/;

const commands = shCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
const runnable = commands.filter((c) => RUN.test(c));

beforeAll(() => {
  // `npx mailroom` runs bin/mailroom.js, i.e. the compiled dist/: compile it from these sources.
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
}, 120_000);

describe("README's shell commands", () => {
  it('finds the commands, and each is either run here or skipped for a stated reason', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(6);
    for (const c of commands) expect(RUN.test(c) || NOT_RUN.some(([re]) => re.test(c)), `README command neither run nor skipped: ${c}`).toBe(true);
  });

  it.each(runnable)('%s', (command) => {
    const r = spawnSync('bash', ['-c', `set -euo pipefail; ${command}`], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status, `${command}\n${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout.trim().length, command).toBeGreaterThan(0);
  }, 60_000);
});
