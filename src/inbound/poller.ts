// One loop per inbound mailbox, isolated: its own connection, backoff with jitter on errors
// classified by origin, the last error kept for status. One failing server never delays another.
import { secretsOf } from '../observability/known-secrets.js';
import type { Logger } from '../observability/logger.js';
import { isTokenEndpointError } from '../oauth/token-errors.js';
import { StoreError } from '../store/types.js';
import { backoffDelay } from './backoff.js';
import { hintFor } from './errors.js';
import { GmailSession } from './gmail-session.js';
import { GraphSession } from './graph-session.js';
import { ImapSession } from './imap-session.js';
import { Pop3Session } from './pop3-session.js';
import { abortableSleep, type ProtocolSession, type SessionContext } from './session.js';
import type { LoginLimiter } from './login-limiter.js';
import { nextTickDelayMs, phaseOf } from './pacing.js';
import { initialStatus } from './status.js';
import { classifyPollError, SuspensionGuard, type MailboxStatusDetails, type SuspensionDeps } from './suspension.js';

export interface PollerOptions {
  backoff?: { baseMs?: number; maxMs?: number };
  /** Suspend on a permanent auth failure instead of backing off forever. */
  suspension?: SuspensionDeps;
  /** Shared by every poller of the daemon: IMAP/POP3 logins wait for their server host's turn. */
  loginLimiter?: LoginLimiter;
  /** Wait this long before the first login (a batch of mailboxes starting together is spread). */
  startDelayMs?: number;
}

export class MailboxPoller {
  readonly status: MailboxStatusDetails;
  private abort = new AbortController();
  private loop: Promise<void> | null = null;
  private session: ProtocolSession;
  private log: Logger;
  private wake: (() => void) | null = null;
  private guard: SuspensionGuard | null;

  constructor(private ctx: Omit<SessionContext, 'status'>, private opts: PollerOptions = {}) {
    const mb = ctx.mailbox;
    this.status = initialStatus(mb.id, [...new Set(mb.owners.map((o) => o.company))], mb.inbound?.protocol ?? null, 'idle');
    this.log = ctx.log.child({ mailbox: mb.id });
    const sctx: SessionContext = { ...ctx, status: this.status, log: this.log, ...(opts.loginLimiter && { loginTurn: () => this.loginTurn(opts.loginLimiter!) }) };
    const protocol = mb.inbound?.protocol;
    this.session = protocol === 'pop3' ? new Pop3Session(sctx) : protocol === 'graph' ? new GraphSession(sctx) : protocol === 'gmail' ? new GmailSession(sctx) : new ImapSession(sctx);
    this.guard = opts.suspension ? new SuspensionGuard(opts.suspension, mb, this.status, ctx.metrics, this.log) : null;
  }

  /** Lift a suspension (API); false when the mailbox was not suspended. */
  resume(why = 'resumed through the API'): Promise<boolean> {
    return this.guard?.resume(why) ?? Promise.resolve(false);
  }

  get id(): string {
    return this.ctx.mailbox.id;
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => {
      // The loop itself never throws; this is a bug guard so one mailbox cannot take the daemon down.
      this.log.error({ err }, 'poller loop crashed');
      this.status.state = 'stopped';
    });
  }

  /** Poll now instead of waiting (tests, API). */
  pollNow(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.session.close();
    this.status.state = 'stopped';
    this.setUp(null);
    this.guard?.dispose();
  }

  /** IMAP and POP3 log in to a server host shared with other mailboxes: wait for its turn (an abort ends the wait; the login then fails as aborted). */
  private async loginTurn(limiter: LoginLimiter): Promise<void> {
    const i = this.ctx.mailbox.inbound;
    if (!i?.host || (i.protocol !== 'imap' && i.protocol !== 'pop3')) return;
    const waited = await limiter.acquire(i.host, this.abort.signal);
    if (waited > 0) this.log.debug({ host: i.host, waitedMs: waited }, 'login waited for its host');
    if (this.abort.signal.aborted) throw Object.assign(new Error('stopped while waiting to log in'), { code: 'EABORTED' });
  }

  private setUp(up: boolean | null): void {
    const m = this.ctx.metrics;
    for (const company of this.status.companies.length ? this.status.companies : ['']) {
      if (up === null) m.mailboxUp.remove({ mailbox: this.id, company });
      else m.mailboxUp.set({ mailbox: this.id, company }, up ? 1 : 0);
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const inbound = this.ctx.mailbox.inbound!;
    await this.guard?.restore();
    const startDelay = this.opts.startDelayMs ?? 0;
    if (startDelay > 0 && !signal.aborted) {
      this.status.nextAttemptAt = new Date(Date.now() + startDelay).toISOString();
      await abortableSleep(startDelay, signal);
      this.status.nextAttemptAt = null;
    }
    // this mailbox's slot in every interval: a fleet's syncs and IDLE refreshes do not line up
    const phase = phaseOf(this.id);
    while (!signal.aborted) {
      if (this.guard?.suspended) {
        await this.session.close();
        await this.guard.waitWhileSuspended(signal);
        continue;
      }
      try {
        if (!this.session.connected) {
          this.status.state = 'polling';
          await this.session.close();
          await this.session.connect(signal);
          this.log.info({ protocol: inbound.protocol, ...(inbound.apiUrl ? { apiUrl: inbound.apiUrl } : { host: inbound.host, port: inbound.port }) }, 'mailbox connected');
        }
        this.status.state = 'polling';
        const end = this.ctx.metrics.pollDuration.startTimer({ mailbox: this.id });
        const r = await this.session.sync(signal);
        end();
        if (r.fetched) this.log.info({ fetched: r.fetched, created: r.created, duplicates: r.duplicates }, 'mailbox synced');
        this.status.lastSuccess = new Date().toISOString();
        this.status.consecutiveFailures = 0;
        this.status.nextAttemptAt = null;
        this.guard?.onSuccess();
        this.ctx.metrics.mailboxLastSuccess.set({ mailbox: this.id }, Date.now() / 1000);
        this.setUp(true);
        if (signal.aborted) break;
        this.status.state = 'idle';
        await this.waitOrWake(nextTickDelayMs(Date.now(), inbound.pollIntervalMs, phase), signal);
      } catch (err) {
        // A refused late commit is counted and logged even when the lease round already stopped this
        // poller (a replica paused past its lease finds both on waking): it is what the metric is for.
        const fenced = err instanceof StoreError && err.code === 'fenced';
        if (fenced) {
          this.ctx.metrics.fenceRefusals.inc({ mailbox: this.id });
          this.log.warn('commit refused by the fence: another replica holds this mailbox now');
        }
        if (signal.aborted) break;
        const c = classifyPollError(err, secretsOf(this.id));
        this.status.consecutiveFailures++;
        const hint = (isTokenEndpointError(err) && err.hint) || hintFor(c.class);
        this.status.lastError = { class: c.class, message: c.message, at: new Date().toISOString(), hint };
        this.ctx.metrics.ingestErrors.inc({ mailbox: this.id, class: c.class });
        this.setUp(false);
        await this.session.close();
        if (await this.guard?.onFailure(err, c)) continue;
        const delay = backoffDelay(this.status.consecutiveFailures, this.opts.backoff);
        this.status.state = 'backoff';
        this.status.nextAttemptAt = new Date(Date.now() + delay).toISOString();
        this.log.warn({ class: c.class, error: c.message, attempt: this.status.consecutiveFailures, retryInMs: delay }, 'mailbox poll failed');
        await this.waitOrWake(delay, signal, true);
      }
    }
  }

  private async waitOrWake(ms: number, signal: AbortSignal, sleepOnly = false): Promise<void> {
    const local = new AbortController();
    const onAbort = () => local.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.wake = () => local.abort();
    try {
      if (sleepOnly) await abortableSleep(ms, local.signal);
      else await this.session.waitForNews(ms, local.signal);
    } finally {
      this.wake = null;
      signal.removeEventListener('abort', onAbort);
    }
  }
}
