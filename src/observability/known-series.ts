// The label sets every labelled counter is exported with, at 0, from the moment the config that
// names them is applied. Prometheus' rate()/increase() need a sample before an event to see it: a
// series that first appears at its first increment hides that increment, so one permanent failure
// would never fire an alert. `knownSeries` (pure) says which label values the snapshot implies;
// `syncKnownSeries` creates the missing series at 0 and removes those of ids the config dropped.
import type { Snapshot } from '../config/snapshot.js';
import type { ErrorClass } from '../inbound/errors.js';
import { COUNTED_FLAGS } from '../ingest/ingest-report.js';
import { resolveSender } from '../outbound/resolve.js';
import { labelValues, removeSeries, type Metrics } from './metrics.js';

/** Every `class` of mailroom_ingest_errors_total (the classifier's ErrorClass, checked below). */
export const INGEST_ERROR_CLASSES = ['dns', 'tcp', 'tls', 'auth', 'protocol', 'busy', 'timeout', 'config', 'other'] as const satisfies readonly ErrorClass[];
// A compile error here means ErrorClass gained a value this list lacks.
const _allClasses: Exclude<ErrorClass, (typeof INGEST_ERROR_CLASSES)[number]> extends never ? true : never = true;
void _allClasses;
/** Every `result` of mailroom_outbound_sent_total (src/outbound/outbox.ts). */
export const OUTBOUND_RESULTS = ['sent', 'retry', 'failed', 'unconfirmed'] as const;
/** Every `result` of mailroom_config_reloads_total (src/daemon/daemon.ts). */
export const RELOAD_RESULTS = ['success', 'invalid', 'failed'] as const;
/** Every `result` of mailroom_webhook_deliveries_total (src/sinks/webhook/dispatcher.ts). */
export const WEBHOOK_RESULTS = ['delivered', 'retry', 'permanent', 'error'] as const;

export interface KnownSeries {
  /** Enabled mailboxes with an inbound side: messages ingested, flagged, ingest errors. */
  inbound: string[];
  /** Sender labels (src/outbound/resolve.ts): mailboxes that send, `default`, `company:<id>`. */
  outbound: string[];
  webhooks: string[];
}

/** The label values the snapshot implies (pure). */
export function knownSeries(snap: Snapshot): KnownSeries {
  const mailboxes = Object.values(snap.mailboxes).filter((m) => m.enabled);
  const outbound = new Set(mailboxes.filter((m) => m.outbound).map((m) => m.id));
  if (snap.defaultOutbound) outbound.add('default');
  // A company whose own fields give it another server than the global default sends as company:<id>.
  for (const company of Object.keys(snap.companies)) {
    let label = '';
    try {
      label = resolveSender(snap, { company, kind: 'user' }).label;
    } catch {
      // a config the resolver cannot place is reported by check and explain; no series for it here
    }
    if (label.startsWith('company:')) outbound.add(label);
  }
  return {
    inbound: mailboxes.filter((m) => m.inbound).map((m) => m.id).sort(),
    outbound: [...outbound].sort(),
    webhooks: Object.keys(snap.webhooks).sort(),
  };
}

/** What the last sync of each registry exported, so a reload costs what changed, not the config's size. */
const synced = new WeakMap<Metrics, KnownSeries>();

/** Series at 0 for every known label set; series of mailboxes, companies and webhooks gone from the config removed. */
export function syncKnownSeries(m: Metrics, snap: Snapshot): void {
  const k = knownSeries(snap);
  const before = synced.get(m);
  const added = (now: string[], then: string[] | undefined) => {
    const had = new Set(then);
    return now.filter((id) => !had.has(id));
  };
  if (!before) for (const result of RELOAD_RESULTS) m.configReloadsTotal.inc({ result }, 0);
  const inbound = added(k.inbound, before?.inbound);
  if (inbound.length) {
    // Histograms too (MailroomIngestLagGrowing takes rate() of the buckets), but zero() resets a
    // series: a mailbox enabled again may still have its counts from before.
    const lag = labelValues(m.ingestLag, 'mailbox');
    const poll = labelValues(m.pollDuration, 'mailbox');
    for (const mailbox of inbound) {
      m.messagesIngested.inc({ mailbox }, 0);
      if (!lag.has(mailbox)) m.ingestLag.zero({ mailbox });
      if (!poll.has(mailbox)) m.pollDuration.zero({ mailbox });
      for (const cls of INGEST_ERROR_CLASSES) m.ingestErrors.inc({ mailbox, class: cls }, 0);
      for (const flag of COUNTED_FLAGS) m.messagesFlagged.inc({ mailbox, flag }, 0);
    }
  }
  for (const mailbox of added(k.outbound, before?.outbound)) for (const result of OUTBOUND_RESULTS) m.outboundSent.inc({ mailbox, result }, 0);
  for (const webhook of added(k.webhooks, before?.webhooks)) for (const result of WEBHOOK_RESULTS) m.webhookDeliveries.inc({ webhook, result }, 0);
  synced.set(m, k);
  if (!before) return;
  // What the config no longer names. A mailbox that is only disabled keeps its series (they may
  // count what it did); one removed from the config loses them (the supervisor's forgetMailbox too).
  const gone = (label: string) =>
    label === 'default' ? false : label.startsWith('company:') ? !(label.slice(8) in snap.companies) : !(label in snap.mailboxes);
  const goneSenders = before.outbound.filter(gone);
  const goneInbound = before.inbound.filter(gone);
  if (goneSenders.length + goneInbound.length) {
    const ids = new Set([...goneSenders, ...goneInbound]);
    for (const metric of [m.messagesIngested, m.ingestErrors, m.messagesFlagged, m.outboundSent, m.ingestLag, m.pollDuration]) removeSeries(metric, (l) => ids.has(l.mailbox ?? ''));
  }
  const goneHooks = new Set(before.webhooks.filter((id) => !(id in snap.webhooks)));
  if (goneHooks.size) for (const metric of [m.webhookDeliveries, m.webhookLatency, m.webhookQueueDepth, m.webhookDeadLetters]) removeSeries(metric, (l) => goneHooks.has(l.webhook ?? ''));
}
