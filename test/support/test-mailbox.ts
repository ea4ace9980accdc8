// Runs `mailroom test-mailbox` in-process for the tests of its diagnosis: the output as one string
// (OB_SHOW=1 prints it), checked never to contain any of the given secrets, and a step's row of it.
import { expect } from 'vitest';
import { main } from '../../src/main.js';

export async function runTestMailbox(configPath: string, args: string[], secrets: () => string[]): Promise<{ code: number | undefined; out: string }> {
  const lines: string[] = [];
  const code = await main(['test-mailbox', '--config', configPath, ...args], (s) => lines.push(s), (s) => lines.push(s));
  const out = lines.join('\n');
  if (process.env.OB_SHOW) console.log(out);
  for (const s of secrets()) expect(out).not.toContain(s);
  return { code, out };
}

/** The line of a step (`ok  tls ...`, `FAIL auth ...`), or ''. */
export const stepRow = (out: string, step: string) => out.split('\n').find((l) => new RegExp(`^\\s+(ok|warn|FAIL|skip)\\s+${step}\\b`).test(l)) ?? '';
