// The Prometheus registry and every mailroom_* metric, in one place so names and labels stay bounded
// (ids from config only, never addresses or subjects).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    configLastReloadSuccessful: new Gauge({ name: 'mailroom_config_last_reload_successful', help: '1 if the last config load or reload was applied, 0 if it was rejected.', registers: r }),
    configLastReloadSuccessTimestamp: new Gauge({ name: 'mailroom_config_last_reload_success_timestamp_seconds', help: 'Unix time of the last applied config.', registers: r }),
    configReloadsTotal: new Counter({ name: 'mailroom_config_reloads_total', help: 'Config reload attempts by result.', labelNames: ['result'] as const, registers: r }),
    configInfo: new Gauge({ name: 'mailroom_config_info', help: 'Hash of the applied config (value always 1).', labelNames: ['hash'] as const, registers: r }),
    mailboxUp: new Gauge({ name: 'mailroom_mailbox_up', help: '1 if the mailbox\'s last poll succeeded.', labelNames: ['mailbox', 'company'] as const, registers: r }),
    mailboxSuspended: new Gauge({ name: 'mailroom_mailbox_suspended', help: '1 if the mailbox is suspended (credentials revoked).', labelNames: ['mailbox', 'company'] as const, registers: r }),
    mailboxLastSuccess: new Gauge({ name: 'mailroom_mailbox_last_success_timestamp_seconds', help: 'Unix time of the last successful poll.', labelNames: ['mailbox'] as const, registers: r }),
    messagesIngested: new Counter({ name: 'mailroom_messages_ingested_total', help: 'Messages committed from a mailbox.', labelNames: ['mailbox'] as const, registers: r }),
    messagesFlagged: new Counter({ name: 'mailroom_messages_flagged_total', help: 'Committed messages by flag (a bounded set: unparsed, too-big, charset-fallback, held, ...; see src/ingest/ingest-report.ts).', labelNames: ['mailbox', 'flag'] as const, registers: r }),
    ingestErrors: new Counter({ name: 'mailroom_ingest_errors_total', help: 'Ingest errors by class (dns, tcp, tls, auth, protocol, busy, other).', labelNames: ['mailbox', 'class'] as const, registers: r }),
    pollDuration: new Histogram({ name: 'mailroom_poll_duration_seconds', help: 'Duration of one poll of a mailbox.', labelNames: ['mailbox'] as const, buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers: r }),
    ingestLag: new Histogram({ name: 'mailroom_ingest_lag_seconds', help: 'Server arrival (INTERNALDATE) to commit.', labelNames: ['mailbox'] as const, buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600], registers: r }),
    webhookQueueDepth: new Gauge({ name: 'mailroom_webhook_queue_depth', help: 'Deliveries waiting per webhook.', labelNames: ['webhook'] as const, registers: r }),
    webhookDeadLetters: new Gauge({ name: 'mailroom_webhook_dead_letters', help: 'Dead-lettered deliveries per webhook.', labelNames: ['webhook'] as const, registers: r }),
    webhookDeliveries: new Counter({ name: 'mailroom_webhook_deliveries_total', help: 'Webhook delivery attempts by result.', labelNames: ['webhook', 'result'] as const, registers: r }),
    webhookLatency: new Histogram({ name: 'mailroom_webhook_delivery_latency_seconds', help: 'Enqueue to accepted delivery.', labelNames: ['webhook'] as const, buckets: [0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 14400], registers: r }),
    outboxQueueDepth: new Gauge({ name: 'mailroom_outbox_queue_depth', help: 'Messages waiting in the outbox.', registers: r }),
    oauthCredentialExpiry: new Gauge({ name: 'mailroom_oauth_credential_expiry_seconds', help: 'Seconds until the OAuth2 client secret or refresh token of the mailbox runs out (negative once expired); only where it is known.', labelNames: ['mailbox'] as const, registers: r }),
    outboundSent: new Counter({ name: 'mailroom_outbound_sent_total', help: 'Outbound send attempts by result (sent, retry, failed).', labelNames: ['mailbox', 'result'] as const, registers: r }),
    storeUp: new Gauge({ name: 'mailroom_store_up', help: '1 if the last check of the store (PostgreSQL: SELECT 1) succeeded, 0 while it is unreachable (the replica is not ready then).', registers: r }),
    clusterMembers: new Gauge({ name: 'mailroom_cluster_members', help: 'Live replicas sharing the store, as this replica saw them in its last lease round (only on a shared store).', registers: r }),
    clusterConfigHashes: new Gauge({ name: 'mailroom_cluster_config_hashes', help: 'Distinct config hashes among the live replicas, as this replica saw them in its last lease round: 1 all on one config, more while a rollout is under way (or stuck); 0 without a shared store. mailroom_config_info{hash} is this replica\'s own.', registers: r }),
    mailboxesOwned: new Gauge({ name: 'mailroom_mailboxes_owned', help: 'Mailboxes whose lease this replica holds (only on a shared store).', registers: r }),
    mailboxOwned: new Gauge({ name: 'mailroom_mailbox_owned', help: 'Per configured inbound mailbox: 1 if this replica holds its lease (polls it), 0 if not (only on a shared store). No replica at 1 for a mailbox: nobody polls it.', labelNames: ['mailbox'] as const, registers: r }),
    fenceRefusals: new Counter({ name: 'mailroom_fence_refusals_total', help: 'Writes of a mailbox (commit, checkpoint, server action) the store refused because another replica took its lease over (a paused or partitioned replica caught by the fence).', labelNames: ['mailbox'] as const, registers: r }),
    leaseAcquired: new Counter({ name: 'mailroom_lease_acquired_total', help: 'Mailbox leases this replica took (at start, on a rebalance, or over from a replica that stopped renewing); the last kind also counts in mailroom_lease_takeovers_total.', registers: r }),
    leaseTakeovers: new Counter({ name: 'mailroom_lease_takeovers_total', help: 'Mailbox leases this replica took over from a holder that never gave them up (it died, was paused or partitioned, and its lease expired), as opposed to free or released ones.', registers: r }),
    claimTakeovers: new Counter({ name: 'mailroom_claim_takeovers_total', help: 'Queue rows claimed over an expired claim that was never settled or released (its claimer died or stalled past the claim TTL), by queue (webhook).', labelNames: ['queue'] as const, registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Remove the series of a labelled metric whose labels match (prom-client has no public listing). */
export function removeSeries(metric: object, match: (labels: Record<string, string | undefined>) => boolean): void {
  const m = metric as { hashMap?: Record<string, { labels: Record<string, string> }>; remove(labels: Record<string, string>): void };
  for (const entry of Object.values(m.hashMap ?? {})) if (match(entry.labels)) m.remove(entry.labels);
}

/** The values one label takes across a labelled metric's series. */
export function labelValues(metric: object, label: string): Set<string> {
  const m = metric as { hashMap?: Record<string, { labels: Record<string, string> }> };
  return new Set(Object.values(m.hashMap ?? {}).map((e) => e.labels[label]).filter((v): v is string => v !== undefined));
}

/** Remove every series of a mailbox (a mailbox removed from config must not linger in /metrics). */
export function forgetMailbox(m: Metrics, mailbox: string): void {
  for (const metric of [m.mailboxUp, m.mailboxSuspended, m.mailboxLastSuccess, m.messagesIngested, m.messagesFlagged, m.ingestErrors, m.pollDuration, m.ingestLag, m.outboundSent, m.oauthCredentialExpiry, m.mailboxOwned, m.fenceRefusals]) {
    removeSeries(metric, (l) => l.mailbox === mailbox);
  }
}
