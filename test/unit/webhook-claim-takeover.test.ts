// Why this file exists: a webhook delivery whose claim expired without an outcome (its replica died or
// stalled past the claim TTL) is claimed again and sent; mailroom_claim_takeovers_total{queue="webhook"}
// counts it (exported at 0 from the start), and a first claim is not counted.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { WebhookDispatcher } from '../../src/sinks/webhook/dispatcher.js';
import { openEmbeddedStores, type EmbeddedStores } from '../../src/store/embedded/stores.js';
import { soleOwner } from '../../src/store/port.js';
import { startReceiver, type Receiver } from '../peers/webhook-receiver.js';
import { waitFor } from '../support/daemon-config.js';
import { sampleItem } from '../support/store-sample.js';

const SECRET = 'claim-takeover-secret-0123';
let dir = '';
let stores: EmbeddedStores | null = null;
let receiver: Receiver | null = null;
let dispatcher: WebhookDispatcher | null = null;
afterEach(async () => {
  await dispatcher?.stop();
  await stores?.close();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

const takeovers = async (m: ReturnType<typeof createMetrics>) => /^mailroom_claim_takeovers_total\{queue="webhook"\} (\d+)$/m.exec(await m.registry.getSingleMetricAsString('mailroom_claim_takeovers_total'))?.[1];

it('a delivery claimed over an expired claim is sent and counted as a claim takeover', async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-claim-'));
  receiver = await startReceiver(SECRET);
  await writeFile(join(dir, 'mailroom.yaml'), `version: 1\nwebhooks:\n  erp: { url: "${receiver.url}", secret: ${SECRET}, timeout: 5s }\n`);
  const loaded = await loadConfig(dir, { env: {} });
  expect(loaded.snapshot, JSON.stringify(loaded.problems)).not.toBeNull();
  stores = await openEmbeddedStores(join(dir, 'data'));
  await stores.intake.commit([{ ...sampleItem({ uid: 1 }), deliveries: { webhooks: ['erp'], gated: false } }, { ...sampleItem({ uid: 2, messageId: '<two@x>' }), deliveries: { webhooks: ['erp'], gated: false } }], soleOwner('support'));
  // another worker claimed the first delivery and vanished: its claim ran out without an outcome
  const [dead] = await stores.deliveries.claimDue({ owner: 'replica-gone', ttlMs: 1, now: Date.now(), capacity: { erp: 1 } });
  expect(dead).toBeDefined();
  await new Promise((r) => setTimeout(r, 5));
  const metrics = createMetrics();
  dispatcher = new WebhookDispatcher({ deliveries: stores.deliveries, tickets: stores.tickets, snapshot: () => loaded.snapshot!, log: createLogger('silent'), metrics, owner: 'webhooks-here' });
  expect(await takeovers(metrics)).toBe('0');
  dispatcher.start();
  await waitFor(() => receiver!.unique().size === 2, 10_000, 'both deliveries');
  expect(receiver.unique().has(dead!.id)).toBe(true);
  expect(await takeovers(metrics)).toBe('1');
});
