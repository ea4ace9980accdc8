// Keeps one poller per enabled inbound mailbox of the current snapshot. On a new snapshot only the
// mailboxes whose resolved settings changed are restarted; the others keep their connections.
import { canonical } from '../config/diff.js';
import type { ResolvedMailbox, Snapshot } from '../config/snapshot.js';
import type { ParsePool } from '../ingest/parse-pool.js';
import type { PipelineContext, RateCounter } from '../ingest/pipeline.js';
import { LoginLimiter } from '../inbound/login-limiter.js';
import { startDelayMs } from '../inbound/pacing.js';
import { MailboxPoller, type PollerOptions } from '../inbound/poller.js';
import { initialStatus, type MailboxStatus } from '../inbound/status.js';
import type { MailboxStatusDetails, SuspensionDeps } from '../inbound/suspension.js';
import type { CredentialHealth } from '../oauth/expiry.js';
import type { Logger } from '../observability/logger.js';
import { forgetMailbox, type Metrics } from '../observability/metrics.js';
import { soleOwner, type Fence, type IntakePort, type SyncPort } from '../store/port.js';
import type { SessionContext } from '../inbound/session.js';

export interface SupervisorDeps {
  intake: IntakePort;
  sync: SyncPort;
  /** The fence a mailbox's poller writes with (default: the sole owner's). */
  fenceFor?: (mailbox: string) => Fence;
  parser: ParsePool;
  log: Logger;
  metrics: Metrics;
  snapshot: () => Snapshot;
  senderRate?: RateCounter;
  webhooks?: { kick(): void };
  heldActions?: SessionContext['heldActions'];
  acknowledge?: PipelineContext['acknowledge'];
  pollerOptions?: PollerOptions;
  /** Suspension of mailboxes whose access is revoked (state, notification, resume). */
  suspension?: SuspensionDeps;
  /** OAuth2 early warning of a mailbox, shown in its status. */
  credentialHealth?: (mailbox: string) => CredentialHealth | null;
}

/** What makes a poller's behaviour: its resolved mailbox (incl. secrets, by fingerprint). */
const pollerKey = (mb: ResolvedMailbox, fence: Fence) => canonical({ inbound: mb.inbound, auth: mb.auth, owners: mb.owners, enabled: mb.enabled, epoch: fence.epoch });

/** Mailboxes of the previous snapshot that the new one no longer has (pure). */
export function removedMailboxes(previous: Iterable<string>, next: Snapshot): string[] {
  return [...previous].filter((id) => !(id in next.mailboxes));
}

export class Supervisor {
  private pollers = new Map<string, { poller: MailboxPoller; key: string; mailbox: ResolvedMailbox; epoch: number }>();
  private disabled = new Map<string, MailboxStatus>();
  /** The mailbox ids of the last applied snapshot. */
  private known = new Set<string>();
  /** With several replicas: the mailboxes this one holds the lease of, with their fences (null: all, as sole owner). */
  private owned: ReadonlyMap<string, Fence> | null = null;
  private last: Snapshot | null = null;
  /** apply() runs one at a time (a reload and a lease round may both ask). */
  private applying: Promise<unknown> = Promise.resolve();

  /** One login rate per server host, shared by every poller (defaults.inbound.loginsPerSecond, read live). */
  private logins: LoginLimiter;

  constructor(private deps: SupervisorDeps) {
    this.logins = new LoginLimiter(() => (this.last ?? deps.snapshot()).pacing);
  }

  /** The mailboxes this replica may poll changed (cluster/coordinator.ts): start and stop pollers to match. */
  async setOwned(owned: ReadonlyMap<string, Fence>): Promise<void> {
    const same = this.owned && this.owned.size === owned.size && [...owned].every(([m, f]) => this.owned!.get(m)?.epoch === f.epoch);
    this.owned = new Map(owned);
    if (!same && this.last) await this.apply(this.last);
  }

  /** Mailboxes this replica polls now (all of them without a cluster). */
  ownedMailboxes(): string[] {
    return [...this.pollers.keys()];
  }

  /** Bring the running pollers in line with the snapshot; returns what it did. */
  apply(snap: Snapshot): Promise<{ started: string[]; stopped: string[]; restarted: string[]; kept: string[] }> {
    const run = this.applying.catch(() => undefined).then(() => this.applyNow(snap));
    this.applying = run;
    return run;
  }

  private async applyNow(snap: Snapshot): Promise<{ started: string[]; stopped: string[]; restarted: string[]; kept: string[] }> {
    this.last = snap;
    const owned = this.owned;
    const wanted = new Map(Object.values(snap.mailboxes).filter((m) => m.inbound && m.enabled && (!owned || owned.has(m.id))).map((m) => [m.id, m]));
    const fenceOf = (id: string) => owned?.get(id) ?? this.deps.fenceFor?.(id) ?? soleOwner(id);
    const started: string[] = [];
    const stopped: string[] = [];
    const restarted: string[] = [];
    const kept: string[] = [];
    const stops: Promise<void>[] = [];
    for (const [id, entry] of this.pollers) {
      const mb = wanted.get(id);
      // the very object it runs with (a reload shares unchanged mailboxes): kept without comparing
      const same = mb !== undefined && mb === entry.mailbox && fenceOf(id).epoch === entry.epoch;
      if (!same && (!mb || pollerKey(mb, fenceOf(id)) !== entry.key)) {
        this.pollers.delete(id);
        stops.push(entry.poller.stop());
        (mb ? restarted : stopped).push(id);
      }
    }
    await Promise.all(stops);
    // Every mailbox that left the config, poller or not (disabled first, outbound-only): its series go.
    for (const id of removedMailboxes(this.known, snap)) forgetMailbox(this.deps.metrics, id);
    this.known = new Set(Object.keys(snap.mailboxes));
    this.disabled.clear();
    for (const mb of Object.values(snap.mailboxes)) {
      if (mb.inbound && !mb.enabled) this.disabled.set(mb.id, initialStatus(mb.id, [...new Set(mb.owners.map((o) => o.company))], mb.inbound.protocol, 'disabled'));
    }
    // the mailboxes starting now spread their first logins (a few start at once, a thousand over a window)
    let batch = 0;
    for (const id of wanted.keys()) if (!this.pollers.has(id)) batch++;
    const restartedNow = new Set(restarted);
    for (const [id, mb] of wanted) {
      const running = this.pollers.get(id);
      if (running) {
        running.mailbox = mb; // the next apply compares by identity
        kept.push(id);
        continue;
      }
      const pacing = { loginLimiter: this.logins, startDelayMs: startDelayMs(id, batch, snap.pacing) };
      const poller = new MailboxPoller({ ...this.deps, mailbox: mb, fence: fenceOf(id) }, { ...pacing, ...this.deps.pollerOptions, ...(this.deps.suspension && { suspension: this.deps.suspension }) });
      this.pollers.set(id, { poller, key: pollerKey(mb, fenceOf(id)), mailbox: mb, epoch: fenceOf(id).epoch });
      poller.start();
      if (!restartedNow.has(id)) started.push(id);
    }
    return { started, stopped, restarted, kept };
  }

  statuses(): MailboxStatus[] {
    const all: MailboxStatusDetails[] = [...[...this.pollers.values()].map((e) => e.poller.status), ...this.disabled.values()].sort((a, b) => a.mailbox.localeCompare(b.mailbox));
    if (this.deps.credentialHealth) for (const s of all) s.credentials = this.deps.credentialHealth(s.mailbox);
    return all;
  }

  /** Lift a mailbox's suspension (POST /v1/mailboxes/:id/resume). */
  async resume(id: string): Promise<'resumed' | 'not-suspended' | 'not-running'> {
    const poller = this.pollers.get(id)?.poller;
    if (!poller) return 'not-running';
    return (await poller.resume()) ? 'resumed' : 'not-suspended';
  }

  poller(id: string): MailboxPoller | undefined {
    return this.pollers.get(id)?.poller;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.pollers.values()].map((e) => e.poller.stop()));
    this.pollers.clear();
  }
}
