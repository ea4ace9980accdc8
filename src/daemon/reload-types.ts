// Why this file exists: what a reload reports (the daemon makes it, the API and status show it), in
// a file of its own so that the HTTP layer needs no import of the daemon.
import type { EntityChange } from '../config/diff.js';
import type { Problem } from '../config/problems.js';

export type ReloadTrigger = 'watch' | 'signal' | 'api' | 'manual';

export interface ReloadResult {
  status: 'applied' | 'unchanged' | 'invalid' | 'failed';
  /** `startup`: the config the daemon started with. */
  trigger: ReloadTrigger | 'startup';
  at: string;
  hash: string | null;
  changes: EntityChange[];
  restartRequired: EntityChange[];
  problems: Problem[];
  error?: string;
}

