// The flag counter's labels stay bounded, and unparsed / too-big mail and held tickets are logged.
import { describe, expect, it } from 'vitest';
import { countedFlags, reportCommitted } from '../../src/ingest/ingest-report.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { Logger } from '../../src/observability/logger.js';
import type { CommitItem, CommitResult } from '../../src/store/index.js';

const item = (flags: string[], status: 'open' | 'held' = 'open'): CommitItem =>
  ({ article: { flags, size: 123 }, ticket: { status } }) as unknown as CommitItem;
const result = (over: Partial<CommitResult> = {}): CommitResult => ({ ticketId: 'ACME-000001', articleNo: 1, duplicate: false, created: true, actionId: null, ...over });

function fakeLog() {
  const lines: [string, Record<string, unknown>, string][] = [];
  const log = { warn: (o: Record<string, unknown>, m: string) => lines.push(['warn', o, m]), info: (o: Record<string, unknown>, m: string) => lines.push(['info', o, m]) } as unknown as Logger;
  return { log, lines };
}

describe('countedFlags', () => {
  it('strips parse: and :<detail>, keeps the known set only, once each', () => {
    expect(countedFlags(['unparsed', 'parse:charset-fallback:windows-1252', 'parse:unknown-charset:x-evil-<script>', 'parse:attachment-too-large:secret.pdf', 'held:sender-rate', 'loop', 'parse:no-message-id', 'parse:charset-fallback:windows-1252']))
      .toEqual(['unparsed', 'charset-fallback', 'unknown-charset', 'attachment-too-large', 'held']);
  });
  it('counts a reply that reopened a rejected ticket under its own flag as well as held', () => {
    expect(countedFlags(['reply-to-rejected', 'held:reply-to-rejected'])).toEqual(['reply-to-rejected', 'held']);
  });
});

describe('reportCommitted', () => {
  it('counts flags per mailbox, warns for unparsed and too-big (no addresses), skips duplicates', async () => {
    const metrics = createMetrics();
    const { log, lines } = fakeLog();
    reportCommitted({ log, metrics }, 'desk', item(['unparsed', 'parse:timeout', 'parse:charset-fallback:windows-1252']), result(), []);
    reportCommitted({ log, metrics }, 'desk', item(['too-big']), result({ ticketId: 'ACME-000002' }), []);
    reportCommitted({ log, metrics }, 'desk', item(['too-big']), result({ duplicate: true }), []);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/mailroom_messages_flagged_total\{mailbox="desk",flag="unparsed"\} 1/);
    expect(text).toMatch(/mailroom_messages_flagged_total\{mailbox="desk",flag="charset-fallback"\} 1/);
    expect(text).toMatch(/mailroom_messages_flagged_total\{mailbox="desk",flag="too-big"\} 1/);
    expect(lines.map(([level, o, m]) => [level, o.ticket, m])).toEqual([
      ['warn', 'ACME-000001', 'message stored unparsed (raw kept)'],
      ['warn', 'ACME-000002', 'message over maxMessageSize stored with its headers only'],
    ]);
    expect(lines[0]![1]).toMatchObject({ flags: ['parse:timeout', 'parse:charset-fallback:windows-1252'], size: 123 });
  });

  it('a dropped message counts as flag="dropped", whatever the route gave as reason (the reason stays out of the labels)', async () => {
    const metrics = createMetrics();
    reportCommitted({ metrics }, 'desk', item(['dropped:spam filter']), result(), []);
    reportCommitted({ metrics }, 'desk', item(['dropped:newsletter']), result({ ticketId: 'ACME-000002' }), []);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^mailroom_messages_flagged_total\{mailbox="desk",flag="dropped"\} 2$/m);
    expect(text).not.toMatch(/spam filter|newsletter/);
  });

  it('a held new ticket is logged at info with its causes and reasons', () => {
    const { log, lines } = fakeLog();
    const reasons = ['more than 2 new tickets from a@x.example within an hour: held'];
    reportCommitted({ log }, 'desk', item(['loop', 'held:sender-rate'], 'held'), result(), reasons);
    reportCommitted({ log }, 'desk', item(['held:mailbox'], 'held'), result({ created: false }), reasons); // an article: no ticket held
    expect(lines).toEqual([['info', { ticket: 'ACME-000001', article: 1, size: 123, holds: ['sender-rate'], reasons }, 'ticket held for approval']]);
  });
});
