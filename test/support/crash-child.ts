// The mailroom process of the crash tests (test/integration/inbound-crash.test.ts), run from source:
//   node --import tsx test/support/crash-child.ts run --config <dir>
// Without MAILROOM_CRASH_AFTER_COMMITS it is exactly `bin/mailroom.js` (the CLI's main()), only
// from src/ instead of dist/. With MAILROOM_CRASH_AFTER_COMMITS=<n> it runs the daemon and SIGKILLs
// itself right after its n-th store commit has become durable, before the server actions of that
// batch (IMAP move/delete/seen, POP3 DELE + QUIT) are done: the crash window "commit done, server
// action not yet done" hit exactly, instead of by luck.
import { ticketStoreOf } from './store-of.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { main } from '../../src/main.js';

const crashAfter = Number(process.env.MAILROOM_CRASH_AFTER_COMMITS ?? 0);
const stopBefore = Number(process.env.MAILROOM_STOP_BEFORE_COMMIT ?? 0);

if (stopBefore) {
  const configPath = process.argv[process.argv.indexOf('--config') + 1];
  if (!configPath) throw new Error('crash-child: --config <dir> is required');
  const daemon = new Daemon({ configPath, parseWorkers: 0, watch: false });
  await daemon.start();
  // the pollers hold this very intake object (see above: none can have committed yet)
  const intake = daemon.stores!.intake;
  const commit = intake.commit.bind(intake);
  let commits = 0;
  intake.commit = (items, fence) => {
    if (++commits !== stopBefore) return commit(items, fence);
    process.stderr.write(`crash-child: SIGSTOP before commit ${commits} (${items.length} items, ${fence.mailbox} epoch ${fence.epoch})\n`);
    process.kill(process.pid, 'SIGSTOP'); // returns once SIGCONTed
    process.stderr.write(`crash-child: SIGCONT, committing ${fence.mailbox} with epoch ${fence.epoch}\n`);
    // what the store answered, whether or not the poller is still there to hear it
    return commit(items, fence).then(
      (r) => (process.stderr.write(`crash-child: late commit ACCEPTED (${r.length} results)\n`), r),
      (e: unknown) => {
        process.stderr.write(`crash-child: late commit REFUSED: ${(e as { code?: string }).code ?? ''}: ${(e as Error).message}\n`);
        throw e;
      },
    );
  };
} else if (!crashAfter) {
  main(process.argv.slice(2)).then((code) => {
    if (typeof code === 'number') process.exitCode = code;
  });
} else {
  const configPath = process.argv[process.argv.indexOf('--config') + 1];
  if (!configPath) throw new Error('crash-child: --config <dir> is required');
  const daemon = new Daemon({ configPath, parseWorkers: 0 });
  await daemon.start();
  // The pollers hold this very store object; they cannot have committed yet (connecting to the
  // server takes I/O, and this runs in the continuation right after start()).
  const store = ticketStoreOf(daemon);
  const commit = store.commit.bind(store);
  let commits = 0;
  store.commit = async (items) => {
    const results = await commit(items);
    if (++commits >= crashAfter) {
      process.stderr.write(`crash-child: SIGKILL after commit ${commits} (${items.length} items)\n`);
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => undefined); // never returns to the poller
    }
    return results;
  };
}
