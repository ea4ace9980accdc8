// Why this file exists: the lease loop of a replica on a shared store. Every round (a third of the
// lease TTL) it heartbeats, reads the members and leases in one call, asks balance.ts which leases
// to take, renew and give up, does so, and hands the supervisor the mailboxes it now holds with their
// fences. A holding that could not be renewed in time is dropped before it can expire unrenewed, so a
// paused or partitioned replica stops polling on its own; the fence refuses anything it still tries.
//
// Leases that change hands are announced (ClusterPort.announce: a join, a release, a leave), and the
// others run a round at once instead of at their next: a replica that joins gets its share, and the
// mailboxes a leaving or rebalancing replica gives up are polled again, within a round trip or two
// rather than up to two rounds (2 × TTL/3) later.
import type { Logger } from '../observability/logger.js';
import type { ClusterPort, Fence, Member } from '../store/port.js';
import { isTakeover, leaseStillSafe, planLeases } from './balance.js';

export interface CoordinatorDeps {
  cluster: ClusterPort;
  /** this replica's id */
  self: string;
  ttlMs: number;
  log: Logger;
  configHash: () => string | null;
  /** the mailboxes to poll in the current config (enabled, with an inbound side) */
  mailboxes: () => string[];
  /** the mailboxes held now, with their fences */
  onOwned: (owned: ReadonlyMap<string, Fence>) => Promise<void>;
  /** a round's outcome, for metrics: `takenOver` of the `acquired` were taken over from a holder that never let go */
  onRound?: (r: { members: Member[]; owned: number; acquired: number; takenOver: number; lost: number }) => void;
}

export class LeaseCoordinator {
  readonly #held = new Map<string, { fence: Fence; renewedAt: number }>();
  #members: Member[] = [];
  #timer: NodeJS.Timeout | null = null;
  #round: Promise<void> | null = null;
  #stopped = false;
  /** an announcement came while a round ran: run one more after it */
  #again = false;
  #nudgeTimer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: CoordinatorDeps) {}

  get members(): readonly Member[] {
    return this.#members;
  }

  /** Which replica holds each mailbox, as of the last round (for status). */
  owners = new Map<string, string | null>();

  async start(): Promise<void> {
    const { cluster, self } = this.deps;
    this.#unsubscribe = cluster.onAnnounce?.((from) => from !== self && this.#nudge()) ?? null;
    await this.round();
    this.#schedule();
    this.#announce(); // joined: holders over their share give it up now
  }

  /** Another replica announced a change: a round soon (a random 0–100 ms, so they do not all run at once). */
  #nudge(): void {
    if (this.#stopped || this.#nudgeTimer) return;
    this.#nudgeTimer = setTimeout(() => {
      this.#nudgeTimer = null;
      if (this.#round) this.#again = true;
      else void this.round();
    }, Math.floor(Math.random() * 100));
    this.#nudgeTimer.unref?.();
  }

  #announce(): void {
    this.deps.cluster.announce?.(this.deps.self).catch((err: unknown) => this.deps.log.debug({ err: { message: (err as Error).message } }, 'lease announcement failed: the others see the change at their next round'));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.round().finally(() => this.#schedule()), Math.max(200, Math.floor(this.deps.ttlMs / 3)));
    this.#timer.unref?.();
  }

  /** One round (also run at once after a reload changed the mailboxes). */
  round(): Promise<void> {
    this.#round ??= this.#roundNow().finally(() => {
      this.#round = null;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.round();
      }
    });
    return this.#round;
  }

  async #roundNow(): Promise<void> {
    const { cluster, self, ttlMs, log } = this.deps;
    const started = Date.now();
    let acquired = 0;
    let takenOver = 0;
    let lost = 0;
    try {
      const hb = await cluster.heartbeat({ id: self, configHash: this.deps.configHash() }, ttlMs);
      if (hb.stalledEnded) log.warn({ sessions: hb.stalledEnded }, 'ended store sessions stalled mid-statement (a stopped replica): their locks no longer hold up a takeover');
      this.#members = hb.members;
      this.owners = new Map(hb.leases.map((l) => [l.mailbox, l.owner !== null && l.expiresAt > hb.now ? l.owner : null]));
      const plan = planLeases({ self, members: hb.members.map((m) => m.id), mailboxes: this.deps.mailboxes(), leases: hb.leases, now: hb.now });
      // Renew what is ours; a lease row ours without a holding here (a restart under the same id) is acquired anew.
      const renewable = plan.renew.flatMap((m) => (this.#held.has(m) ? [this.#held.get(m)!.fence] : []));
      const renewed = new Set((await cluster.renew(renewable, self, ttlMs)).map((f) => f.mailbox));
      for (const f of renewable) {
        if (renewed.has(f.mailbox)) this.#held.get(f.mailbox)!.renewedAt = started;
        else {
          this.#held.delete(f.mailbox);
          lost++;
          log.warn({ mailbox: f.mailbox, epoch: f.epoch }, 'lease lost: another replica took the mailbox over');
        }
      }
      for (const m of [...plan.acquire, ...plan.renew.filter((x) => !this.#held.has(x) && !renewable.some((f) => f.mailbox === x))]) {
        const fence = await cluster.acquire(m, self, ttlMs);
        if (!fence) continue;
        this.#held.set(m, { fence, renewedAt: started });
        this.owners.set(m, self);
        acquired++;
        if (isTakeover(hb.leases.find((l) => l.mailbox === m))) {
          takenOver++;
          log.info({ mailbox: m, epoch: fence.epoch }, 'lease taken over: its holder stopped renewing');
        }
      }
      const gone = plan.release.flatMap((m) => (this.#held.has(m) ? [this.#held.get(m)!.fence] : []));
      for (const f of gone) this.#held.delete(f.mailbox);
      // The supervisor stops those pollers before the lease is given up.
      if (gone.length) {
        await this.deps.onOwned(this.#view());
        await cluster.release(gone, self);
        for (const f of gone) this.owners.set(f.mailbox, null);
        this.#announce();
      }
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'lease round failed: holdings are kept while they are safe');
    }
    // A holding not renewed for too long is dropped before it can expire unrenewed.
    for (const [m, h] of this.#held)
      if (!leaseStillSafe(h.renewedAt, ttlMs, Math.floor(ttlMs / 3), Date.now())) {
        this.#held.delete(m);
        lost++;
        log.warn({ mailbox: m }, 'lease not renewed in time: polling stops');
      }
    // What is held now is handed on whatever failed above; a failure there is logged, never thrown
    // out of the round (the timer's next round must come: a throw here ended the process).
    if (!this.#stopped) await this.deps.onOwned(this.#view()).catch((err: unknown) => log.warn({ err: { message: (err as Error).message } }, 'lease round: applying the holdings failed; the next round applies them again'));
    this.deps.onRound?.({ members: this.#members, owned: this.#held.size, acquired, takenOver, lost });
  }

  #view(): ReadonlyMap<string, Fence> {
    return new Map([...this.#held].map(([m, h]) => [m, h.fence]));
  }

  /** Stop polling everything, give the leases up and leave (SIGTERM: the others take over at once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#nudgeTimer) clearTimeout(this.#nudgeTimer);
    this.#unsubscribe?.();
    await this.#round?.catch(() => undefined);
    const fences = [...this.#held.values()].map((h) => h.fence);
    this.#held.clear();
    await this.deps.onOwned(new Map());
    await this.deps.cluster.release(fences, this.deps.self).catch(() => undefined);
    await this.deps.cluster.leave(this.deps.self).catch(() => undefined);
    await this.deps.cluster.announce?.(this.deps.self).catch(() => undefined);
  }
}
