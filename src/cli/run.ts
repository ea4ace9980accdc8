// `mailroom run`: start the daemon; refuse to start on an invalid config (exit 1, all problems printed).
import { ConfigInvalidError, Daemon } from '../daemon/daemon.js';
import { installSignalHandlers } from '../daemon/signals.js';
import { formatProblem } from '../config/problems.js';

export async function runCommand(opts: { config: string; watch?: boolean }, err: (s: string) => void): Promise<number | undefined> {
  const daemon = new Daemon({ configPath: opts.config, watch: opts.watch !== false });
  installSignalHandlers({ stop: () => daemon.stop(), reload: () => daemon.reload('signal') }, daemon.log);
  try {
    await daemon.start();
  } catch (e) {
    if (e instanceof ConfigInvalidError) {
      for (const p of e.problems) err(formatProblem(p));
      err(`mailroom: not starting: ${e.message}`);
    } else {
      err(`mailroom: not starting: ${(e as Error).message}`);
    }
    await daemon.stop().catch(() => undefined);
    return 1;
  }
  return undefined; // keeps running until a signal
}
