// What a poller needs from a protocol: connect, one sync pass, wait for news, close.
import type { ResolvedMailbox } from '../config/snapshot.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PipelineContext } from '../ingest/pipeline.js';
import type { Fence, SyncPort } from '../store/port.js';
import type { MailboxStatus } from './status.js';

export interface SessionContext extends PipelineContext {
  mailbox: ResolvedMailbox;
  log: Logger;
  metrics: Metrics;
  status: MailboxStatus;
  /** The store's sync port and this poller's fence (the store port migration); see syncPortOf. */
  sync?: SyncPort;
  fence?: Fence;
  /** A server action that must wait (e.g. for its webhook delivery); it stays pending until then. */
  actionHeld?: (actionId: string) => boolean;
}

export interface SyncResult {
  fetched: number;
  created: number;
  duplicates: number;
}

export interface ProtocolSession {
  connect(): Promise<void>;
  /** One pass: finish pending server actions, fetch what is new in bounded batches, commit, act. */
  sync(signal: AbortSignal): Promise<SyncResult>;
  /** Resolve when new mail may be there: IMAP IDLE 'exists', or after `ms`, or on abort. */
  waitForNews(ms: number, signal: AbortSignal): Promise<void>;
  /** LOGOUT / QUIT where possible; never throws. */
  close(): Promise<void>;
  readonly connected: boolean;
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
