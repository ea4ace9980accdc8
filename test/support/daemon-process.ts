// Runs mailroom (or another test child script) as a separate process, from source, collecting
// everything it prints: for the tests of signals, exit codes and logs.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** `mailroom` from src/ (see crash-child.ts). */
export const MAILROOM = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

export interface ChildRun {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnScript(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildRun {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d));
  child.stderr!.on('data', (d: Buffer) => (output += d));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return { child, output: () => output, exited };
}

/** `mailroom run --no-watch --config <dir>`: only SIGHUP (or the API) reloads. */
export const spawnMailroom = (configDir: string, env?: NodeJS.ProcessEnv) => spawnScript(MAILROOM, ['run', '--no-watch', '--config', configDir], env);
