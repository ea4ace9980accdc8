// A mailbox removed from the config takes its metric series with it, whether or not it had a
// poller: one disabled before its removal, or one that only sends (outbound_sent_total).
import { describe, expect, it } from 'vitest';
import { loadFromSources } from '../../src/config/load.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { removedMailboxes, Supervisor, type SupervisorDeps } from '../../src/daemon/supervisor.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';

const MAILBOXES: Record<string, string> = {
  sender: '  sender:\n    outbound: { host: smtp.example.com, port: 465, security: tls }\n',
  paused: '  paused:\n    enabled: false\n    inbound: { protocol: imap, host: imap.example.com }\n    auth: { user: u, passwordFile: /run/secrets/pw }\n',
};

function snapshot(ids: string[]): Snapshot {
  const text = `version: 1\n${ids.length ? `mailboxes:\n${ids.map((id) => MAILBOXES[id]).join('')}` : 'mailboxes: {}\n'}`;
  const r = loadFromSources([{ name: 'mem.yaml', absolute: '/mem.yaml', text }], { env: {} });
  expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
  return r.snapshot!;
}

describe('removed mailboxes leave /metrics', () => {
  it('removedMailboxes: ids of the previous snapshot absent from the new one', () => {
    expect(removedMailboxes(['sender', 'paused', 'gone'], snapshot(['sender']))).toEqual(['paused', 'gone']);
  });

  it('a disabled mailbox and an outbound-only mailbox lose their series when removed', async () => {
    const metrics = createMetrics();
    // No mailbox here runs a poller, so the store and parser are never touched.
    const sup = new Supervisor({ metrics, log: createLogger('silent'), snapshot: () => snapshot([]) } as unknown as SupervisorDeps);
    await sup.apply(snapshot(['sender', 'paused']));
    metrics.outboundSent.inc({ mailbox: 'sender', result: 'sent' });
    metrics.mailboxUp.set({ mailbox: 'paused', company: 'acme' }, 0);
    metrics.messagesIngested.inc({ mailbox: 'paused' });
    await sup.apply(snapshot(['sender', 'paused']));
    expect(await metrics.registry.metrics()).toMatch(/mailbox="paused"/);
    await sup.apply(snapshot([]));
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/mailbox="sender"/);
    expect(text).not.toMatch(/mailbox="paused"/);
  });
});
