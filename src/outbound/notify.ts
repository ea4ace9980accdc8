// `delivery-failed` notifications: when a message of a company fails for good (5xx, or it gave up),
// the company's `notify` addresses that subscribe to the event are told, by system mail through the
// global default sender. Notifications and acknowledgements never cause notifications themselves
// (no loops, no noise about auto-replies to addresses that do not exist).
import { own } from '../config/id-map.js';
import type { Snapshot } from '../config/snapshot.js';
import { secretsOf } from '../observability/known-secrets.js';
import type { Logger } from '../observability/logger.js';
import { MIN_SECRET_LENGTH, scrubSecrets } from '../observability/secret-scrub.js';
import type { OutboxEntry } from '../store/outbox-types.js';
import type { DeliveryFailure, Outbox } from './outbox.js';
import { companiesOf } from '../config/mailbox-ownership.js';
import { submitMessage } from './submit.js';

export function notifyRecipients(snap: Snapshot, company: string, event: string): string[] {
  const c = own(snap.companies, company);
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

export interface MailboxNotice {
  event: 'mailbox-suspended' | 'credential-expiring';
  subject: string;
  lines: string[];
}

/**
 * `mailbox-suspended` text: what happened, the provider's code, how to get the mailbox back.
 * `sides` says what stopped: reading it (mail stays on the server) and/or sending through it (mail is
 * held in the outbox); one suspension covers both sides of a mailbox.
 */
export function mailboxSuspendedNotice(mailbox: string, s: { reason: string; code: string | null; source: string; at: string }, sides: { reads: boolean; sends: boolean } = { reads: true, sends: false }): MailboxNotice {
  const what = [sides.reads && 'reading', sides.sends && 'sending through'].filter(Boolean).join(' and ') || 'using';
  return {
    event: 'mailbox-suspended',
    subject: `Mailbox ${mailbox} suspended: its access was refused for good`,
    lines: [
      `mailroom stopped ${what} mailbox ${mailbox}: ${s.source === 'token-endpoint' ? 'the identity provider refused its OAuth2 grant' : 'the mail server refused its login again and again'}.`,
      ...(sides.reads ? ['Mail sent to it stays on the server and is read once access is restored.'] : []),
      ...(sides.sends ? ['Mail to be sent through it is held in the outbox (queued, not failed) and sent once access is restored.'] : []),
      '',
      `Mailbox:   ${mailbox}`,
      `Since:     ${s.at}`,
      `Code:      ${s.code ?? 'none given'}`,
      `Reason:    ${s.reason}`,
      '',
      'To restore it: renew the credentials (a new refresh token, client secret or password) and',
      'update them in the configuration; the mailbox resumes by itself. If the fix was made at the',
      `provider only (consent granted again, MFA done): POST /v1/mailboxes/${mailbox}/resume`,
    ],
  };
}

/** `credential-expiring` text. */
export function credentialExpiringNotice(mailbox: string, h: { message: string; expiresAt: string; credential: string }): MailboxNotice {
  return {
    event: 'credential-expiring',
    subject: `Mailbox ${mailbox}: OAuth2 ${h.credential === 'clientSecret' ? 'client secret' : 'refresh token'} expires ${h.expiresAt.slice(0, 10)}`,
    lines: [`Mailbox ${mailbox}: ${h.message}.`, '', `Expires:   ${h.expiresAt}`, '', 'When it runs out, mailroom suspends the mailbox and stops reading it.'],
  };
}

/** Queue a notice about a mailbox to its companies' notify addresses; true when queued or nobody is subscribed. */
export async function notifyAboutMailbox(outbox: Outbox, snap: Snapshot, mailbox: string, n: MailboxNotice, log: Logger): Promise<boolean> {
  let ok = true;
  for (const company of companiesOf(snap, mailbox)) {
    const to = notifyRecipients(snap, company, n.event);
    if (to.length === 0) continue;
    const subject = n.subject.replace(/[\r\n]+/g, ' ').slice(0, 900);
    // The reason was scrubbed when the error was classified; a record from an older version may not be
    // (short secrets are left out here: they would be cut out of our own words).
    const text = scrubSecrets(n.lines.join('\n') + '\n', secretsOf(mailbox).filter((s) => s.length >= MIN_SECRET_LENGTH));
    try {
      // Through the global default, like delivery-failed (a suspended mailbox cannot send its own bad news).
      const { entry } = await submitMessage(outbox, snap, { purpose: 'notification', company: snap.defaultOutbound ? null : company, kind: 'system', to, subject, text, headers: { 'Auto-Submitted': 'auto-generated' } });
      log.info({ id: entry.id, mailbox, company, event: n.event }, 'mailbox notification queued');
    } catch (err) {
      ok = false;
      log.error({ err: { message: (err as Error).message }, mailbox, company, event: n.event }, 'mailbox notification could not be queued');
    }
  }
  return ok;
}

export { companiesOf };
