// `delivery-failed` notifications: when a message of a company fails for good (5xx, or it gave up),
// the company's `notify` addresses that subscribe to the event are told, by system mail through the
// global default sender. Notifications and acknowledgements never cause notifications themselves
// (no loops, no noise about auto-replies to addresses that do not exist).
import type { Snapshot } from '../config/snapshot.js';
import type { Logger } from '../observability/logger.js';
import type { OutboxEntry } from '../store/outbox-types.js';
import type { DeliveryFailure, Outbox } from './outbox.js';
import { submitMessage } from './submit.js';

export function notifyRecipients(snap: Snapshot, company: string, event: string): string[] {
  const c = snap.companies[company];
  return [...new Set((c?.notify ?? []).filter((n) => !n.events || n.events.length === 0 || (n.events as string[]).includes(event)).map((n) => n.address))];
}

export function deliveryFailedText(e: OutboxEntry, f: DeliveryFailure): { subject: string; text: string } {
  const subject = `Delivery failed: ${e.subject}`.replace(/[\r\n]+/g, ' ').slice(0, 900);
  const lines = [
    'mailroom could not deliver a message.',
    '',
    `Message:    ${e.id}`,
    `Message-ID: <${e.messageId}>`,
    `Subject:    ${e.subject}`,
    `Sent via:   ${e.mailbox ? `mailbox ${e.mailbox}` : 'the global default server'}`,
    ...(e.ticket ? [`Ticket:     ${e.ticket}`] : []),
    `Attempts:   ${e.attempts}`,
    `Reason:     ${f.reason}`,
    '',
    'Recipients refused:',
    ...f.recipients.map((r) => `  ${r.address}: ${r.response || 'no reply'}`),
    '',
    'Details: GET /v1/messages/' + e.id,
  ];
  return { subject, text: lines.join('\n') + '\n' };
}

/** The hook the outbox calls on failure: queue one notification to the company's notify addresses. */
export function deliveryFailedNotifier(outbox: Outbox, snapshot: () => Snapshot | null, log: Logger) {
  return (e: OutboxEntry, f: DeliveryFailure): void => {
    if (e.purpose === 'notification' || e.purpose === 'acknowledgement' || !e.company) return;
    const snap = snapshot();
    if (!snap) return;
    const to = notifyRecipients(snap, e.company, 'delivery-failed');
    if (to.length === 0) return;
    const { subject, text } = deliveryFailedText(e, f);
    // Through the global default; a company without one configured falls back to its own system sender.
    const company = snap.defaultOutbound ? null : e.company;
    submitMessage(outbox, snap, { purpose: 'notification', company, kind: 'system', to, subject, text, headers: { 'Auto-Submitted': 'auto-generated' } })
      .then(({ entry }) => log.info({ id: entry.id, about: e.id, company: e.company }, 'delivery-failed notification queued'))
      .catch((err: unknown) => log.error({ err: { message: (err as Error).message }, about: e.id, company: e.company }, 'delivery-failed notification could not be queued'));
  };
}
