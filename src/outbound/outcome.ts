// What one send attempt's outcome does to an outbox entry (pure): sent, retried (when, with which
// error), or failed (with the recipients to notify), and what it says about the lane (healthy, pause,
// transport to drop). outbox.ts applies it: persists the patch, counts, schedules, notifies.
import { scrubSecrets } from '../observability/secret-scrub.js';
import { sentPatch } from '../store/outbox-types.js';
import type { OutboxEntry, RecipientOutcome } from '../store/outbox-types.js';
import { classifySendError, retryDelay, splitRecipients, type ClassifiedSend } from './errors.js';
import type { SendResult } from './transport-pool.js';

export type SendOutcome = { result: SendResult } | { error: unknown; committed: boolean };

export interface OutcomePolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxAgeMs: number;
  laneBackoffMs: number;
  random: () => number;
}

export interface OutcomeContext {
  now: number;
  /** the attempt this outcome ends (entry.attempts + 1) */
  attempt: number;
  /** failures of the lane in a row before this attempt */
  laneFailures: number;
  /** the sending mailbox's secret values: stripped from every server text kept or shown */
  secrets?: readonly string[];
  policy: OutcomePolicy;
}

export interface OutboxTransition {
  /** written to the entry (status, attempts, nextAttemptAt, lastError, envelope, rejected ...) */
  patch: Partial<OutboxEntry>;
  verdict: 'sent' | 'retrying' | 'failed';
  /** retrying: when (epoch ms) */
  nextAt?: number;
  /** the error that decided it (for logs, metrics and suspension), null when sent */
  error: ClassifiedSend | null;
  /** recipients refused for good, to notify about (a finished message only) */
  notify?: { recipients: RecipientOutcome[]; reason: string };
  /** what the outcome says about the lane */
  lane: { healthy?: true; pauseMs?: number; dropTransport?: true };
}

const errorOf = ({ pauseLane: _p, connectionLost: _c, ...lastError }: ClassifiedSend) => lastError;

export function nextOutboxState(e: OutboxEntry, outcome: SendOutcome, ctx: OutcomeContext): OutboxTransition {
  return 'result' in outcome ? afterSent(e, outcome.result, ctx) : afterError(e, outcome.error, outcome.committed, ctx);
}

function afterSent(e: OutboxEntry, r: SendResult, ctx: OutcomeContext): OutboxTransition {
  const secrets = ctx.secrets ?? [];
  const { perm, temp } = splitRecipients(r.rejectedErrors, secrets);
  const rejected = [...e.rejected, ...perm];
  if (temp.length === 0) {
    const at = new Date(ctx.now).toISOString();
    return {
      patch: { ...sentPatch(e, { at, response: scrubSecrets(r.response, secrets), confirmed: true, accepted: r.accepted }), attempts: ctx.attempt, rejected, lastError: null },
      verdict: 'sent',
      error: null,
      // Refusals of earlier attempts too: each message is notified about once, when it is finished.
      ...(rejected.length && { notify: { recipients: rejected, reason: 'some recipients were refused' } }),
      lane: { healthy: true },
    };
  }
  const c: ClassifiedSend = { class: 'temporary', code: 'EENVELOPE', responseCode: temp[0]!.code, message: temp[0]!.response, pauseLane: false, connectionLost: false };
  // The accepted ones are done: what is retried (or given up) is the temporarily refused rest.
  const rest = { ...e, accepted: [...new Set([...e.accepted, ...r.accepted])], rejected, envelope: { from: e.envelope.from, to: temp.map((x) => x.address) } };
  const t = retry(rest, ctx.attempt, c, ctx);
  t.patch = { accepted: rest.accepted, rejected: rest.rejected, envelope: rest.envelope, ...t.patch };
  t.lane = { healthy: true };
  return t;
}

function afterError(e: OutboxEntry, error: unknown, committed: boolean, ctx: OutcomeContext): OutboxTransition {
  const secrets = ctx.secrets ?? [];
  const c = classifySendError(error, secrets);
  const perRcpt = (error as { rejectedErrors?: { recipient?: string; responseCode?: number | null; response?: string }[] }).rejectedErrors;
  if (perRcpt?.length) {
    const { perm, temp } = splitRecipients(perRcpt, secrets);
    const rejected = [...e.rejected, ...perm];
    if (temp.length === 0) return fail(e, ctx.attempt, c, rejected, 'every recipient was refused', ctx.now);
    const rest = { ...e, rejected, envelope: { from: e.envelope.from, to: temp.map((x) => x.address) } };
    const t = retry(rest, ctx.attempt, c, ctx);
    t.patch = { rejected: rest.rejected, envelope: rest.envelope, ...t.patch };
    return t;
  }
  if (c.class === 'permanent') return fail(e, ctx.attempt, c, [...e.rejected, ...e.envelope.to.map((address) => ({ address, code: c.responseCode, response: c.message }))], 'the server refused the message', ctx.now);
  const lane: OutboxTransition['lane'] = {};
  let delay: number | undefined;
  if (c.connectionLost && !committed && ctx.laneFailures === 0 && ctx.attempt === 1) delay = 0; // a pooled connection the server had closed
  else if (c.pauseLane) lane.pauseMs = retryDelay(ctx.laneFailures + 1, ctx.policy.laneBackoffMs, ctx.policy.maxBackoffMs, ctx.policy.random);
  if (c.class === 'mailbox') lane.dropTransport = true; // re-read credentials on the next try
  const t = retry(e, ctx.attempt, c, ctx, delay);
  // After the end of data a lost connection leaves the server's verdict unknown: sent again
  // (same Message-ID), flagged; a reply (e.g. 451) is a verdict, so that retry is no duplicate.
  if (committed && c.connectionLost) t.patch.possibleDuplicate = true;
  t.lane = lane;
  return t;
}

/** Retry later, or fail when the message is older than maxAgeMs. */
export function retry(e: OutboxEntry, attempts: number, c: ClassifiedSend, ctx: Pick<OutcomeContext, 'now' | 'policy'>, delay?: number): OutboxTransition {
  const p = ctx.policy;
  if (ctx.now - Date.parse(e.createdAt) > p.maxAgeMs) {
    const rcpts = e.envelope.to.map((address) => ({ address, code: c.responseCode, response: c.message }));
    return fail(e, attempts, c, [...e.rejected, ...rcpts], `gave up after ${attempts} attempts`, ctx.now);
  }
  const nextAt = ctx.now + (delay ?? retryDelay(Math.max(1, attempts), p.initialBackoffMs, p.maxBackoffMs, p.random));
  return { patch: { status: 'retrying', attempts, nextAttemptAt: new Date(nextAt).toISOString(), lastError: errorOf(c) }, verdict: 'retrying', nextAt, error: c, lane: {} };
}

function fail(e: OutboxEntry, attempts: number, c: ClassifiedSend, rejected: RecipientOutcome[], reason: string, now: number): OutboxTransition {
  return {
    patch: { status: 'failed', attempts, failedAt: new Date(now).toISOString(), nextAttemptAt: null, lastError: errorOf(c), rejected, envelope: { from: e.envelope.from, to: [] } },
    verdict: 'failed',
    error: c,
    notify: { recipients: rejected, reason: `${reason}: ${c.message}` },
    lane: {},
  };
}
