// A process with mailroom's signal handlers (src/daemon/signals.ts) and the real root logger, for
// test/unit/signals.test.ts:  node --import tsx test/support/signals-child.ts hang|reject
//   hang:   its shutdown never finishes (a stuck LOGOUT, a store that does not flush)
//   reject: a promise rejection nobody handles, once the handlers are in place
import { installSignalHandlers } from '../../src/daemon/signals.js';
import { createLogger } from '../../src/observability/logger.js';

const mode = process.argv[2];
const log = createLogger('info');
installSignalHandlers({ stop: () => new Promise<void>(() => undefined) }, log, 60_000);
setInterval(() => undefined, 1000); // stays alive until a handler ends it
log.info({ mode }, 'signals child ready');
if (mode === 'reject') setTimeout(() => void Promise.reject(new Error('planted rejection')), 50);
