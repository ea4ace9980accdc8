// What a poller needs from a protocol: connect, one sync pass, wait for news, close.
import type { ResolvedMailbox } from '../config/snapshot.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { IngestOutcome, PipelineContext } from '../ingest/pipeline.js';
import type { Fence, SyncPort } from '../store/port.js';
import type { MailboxStatus } from './status.js';

export interface SessionContext extends PipelineContext {
  mailbox: ResolvedMailbox;
  /** checkpoints, UIDLs, pending server actions */
  sync: SyncPort;
  /** the right to write for this mailbox: every write it makes carries it */
  fence: Fence;
  log: Logger;
  metrics: Metrics;
  status: MailboxStatus;
  /** Of these server actions, those that must wait (e.g. for their webhook delivery); they stay pending until then. */
  heldActions?: (actionIds: string[]) => Promise<Set<string>>;
  /** Wait for this mailbox's turn to log in to its server host (login-limiter.ts); called before every IMAP/POP3 login. */
  loginTurn?: () => Promise<void>;
}

export interface SyncResult {
  fetched: number;
  created: number;
  duplicates: number;
}

export interface ProtocolSession {
  /** Connect and log in; an abort (the poller stopping) ends a connect in progress at once. */
  connect(signal?: AbortSignal): Promise<void>;
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

/**
 * Count a committed batch into the pass's result, the mailbox's status and metrics (every transport
 * does the same). `lag`: observe the server-arrival-to-commit lag of messages that carry their date.
 */
export function recordOutcomes(ctx: Pick<SessionContext, 'mailbox' | 'metrics' | 'status'>, result: SyncResult, outcomes: readonly IngestOutcome[], opts: { lag: boolean }): void {
  const mailbox = ctx.mailbox.id;
  for (const o of outcomes) {
    result.fetched++;
    if (o.result.duplicate) {
      result.duplicates++;
      continue;
    }
    result.created++;
    ctx.status.ingested++;
    ctx.metrics.messagesIngested.inc({ mailbox });
    if (opts.lag && o.message.serverDate) ctx.metrics.ingestLag.observe({ mailbox }, Math.max(0, (Date.now() - o.message.serverDate.getTime()) / 1000));
  }
}

/** A promise whose rejection is held until it is awaited (never unhandled). */
export function settleLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
