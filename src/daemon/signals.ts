// Process signals: SIGTERM/SIGINT stop gracefully within a deadline, a second signal forces exit;
// SIGHUP asks for a reload; an unhandled rejection is logged and ends the process non-zero.
import type { Logger } from '../observability/logger.js';

export interface SignalTargets {
  stop(): Promise<void>;
  reload?(): Promise<unknown>;
}

export function installSignalHandlers(target: SignalTargets, log: Logger, deadlineMs = 30_000): void {
  let stopping = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: forcing exit');
      log.flush?.();
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'signal received: shutting down');
    const timer = setTimeout(() => {
      log.error({ deadlineMs }, 'shutdown deadline passed: forcing exit');
      log.flush?.();
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    target.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => {
    if (target.reload) void target.reload().catch((err: unknown) => log.error({ err }, 'reload failed'));
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled promise rejection: exiting');
    log.flush?.();
    process.exit(70);
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception: exiting');
    log.flush?.();
    process.exit(70);
  });
}
