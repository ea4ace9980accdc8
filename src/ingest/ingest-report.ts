// What a committed message tells operators: the flag counter (mailroom_messages_flagged_total), a
// warn line for mail stored unparsed or too big, an info line for a held ticket with its reasons (or a
// rejected one a reply reopened as held)
// and one for a message that reuses a stored message's Message-ID.
// The counter's `flag` label is a fixed set, never a charset, filename or address, so its series
// stay bounded whatever the mail says; addresses appear only in the info line's reasons.
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CommitItem, CommitResult } from '../store/index.js';

export const COUNTED_FLAGS = [
  'unparsed', 'too-big', 'timeout', 'charset-fallback', 'invalid-utf8', 'unknown-charset', 'header-charset-fallback',
  'invalid-encoded-word', 'invalid-base64', 'possible-nul-bytes', 'nul-bytes', 'control-chars', 'subject-truncated',
  'truncated-headers', 'body-recovered', 'attachment-too-large', 'thread-unverified-sender', 'held', 'dropped',
  'html-too-large', 'duplicate-message-id', 'reply-to-rejected',
] as const;
const COUNTED = new Set<string>(COUNTED_FLAGS);

/** An article's flags as counter labels: 'parse:' and ':<detail>' dropped, only COUNTED_FLAGS, once each. */
export function countedFlags(flags: readonly string[]): string[] {
  const out = new Set<string>();
  for (const f of flags) {
    const name = f.replace(/^parse:/, '').replace(/:.*$/, '');
    if (COUNTED.has(name)) out.add(name);
  }
  return [...out];
}

export interface ReportContext { log?: Logger; metrics?: Metrics }

export function reportCommitted(ctx: ReportContext, mailbox: string, item: CommitItem, r: CommitResult, reasons: readonly string[]): void {
  if (r.duplicate) return;
  const flags = item.article.flags;
  for (const flag of countedFlags(flags)) ctx.metrics?.messagesFlagged.inc({ mailbox, flag });
  // no `mailbox` field: the poller's logger is a child that carries it already
  const where = { ticket: r.ticketId, article: r.articleNo, size: item.article.size };
  if (flags.includes('unparsed')) ctx.log?.warn({ ...where, flags: flags.filter((f) => f.startsWith('parse:')) }, 'message stored unparsed (raw kept)');
  if (flags.includes('too-big')) ctx.log?.warn(where, 'message over maxMessageSize stored with its headers only');
  if (flags.includes('duplicate-message-id')) ctx.log?.info({ ...where, messageId: item.article.messageId }, 'Message-ID reused by a different message: kept as its own article');
  if (r.created && item.ticket.status === 'held')
    ctx.log?.info({ ...where, holds: flags.filter((f) => f.startsWith('held:')).map((f) => f.slice(5)), reasons }, 'ticket held for approval');
  if (r.reopened) ctx.log?.info({ ...where, reasons }, 'reply to a rejected ticket: reopened as held for approval');
}
