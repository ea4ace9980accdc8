// Suspension of a mailbox whose access is gone for good: the token endpoint refused the grant or
// the client permanently (invalid_grant, AADSTS50173 ...), or the mail server refused the login N
// times in a row. A suspended mailbox stops connecting (the others go on), says why in status and
// in mailroom_mailbox_suspended, has its company notified once, and stays suspended across restarts
// (state in `<store.path>/suspensions.json`, never in the config) while its credentials are
// unchanged. It resumes when its credentials change (config, or a rotated secret file: checked
// every minute) or through POST /v1/mailboxes/:id/resume. The sending side of a mailbox
// (src/outbound/sender-suspension.ts) shares the state: one suspension covers both sides.
import type { ResolvedMailbox } from '../config/snapshot.js';
import { mailboxFingerprint } from './credential-fingerprint.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CredentialHealth } from '../oauth/expiry.js';
import { isTokenEndpointError, type TokenEndpointError } from '../oauth/token-errors.js';
import { classifyError, type ClassifiedError, type ErrorClass } from './errors.js';
import { abortableSleep } from './session.js';
import type { SuspensionStore } from './suspension-store.js';
import type { MailboxStatus } from './status.js';

export { SuspensionStore, type SuspensionListener } from './suspension-store.js';
export type { SuspensionInfo, SuspensionRecord } from '../store/control-types.js';
import type { SuspensionInfo, SuspensionRecord } from '../store/control-types.js';
export { credentialFingerprint, mailboxFingerprint, type FingerprintKey } from './credential-fingerprint.js';

/** A mailbox status with the OAuth2 and suspension details (status.ts keeps the common part). */
export type MailboxStatusDetails = MailboxStatus & { suspension?: SuspensionInfo | null; credentials?: CredentialHealth | null };


export const DEFAULT_AUTH_FAILURE_THRESHOLD = 5;

/** classifyError, plus the token endpoint's errors (which no mail server ever sent). */
export function classifyPollError(err: unknown, secrets: readonly string[] = []): ClassifiedError {
  if (!isTokenEndpointError(err)) return classifyError(err, secrets);
  const cls: Record<TokenEndpointError['kind'], ErrorClass> = { permanent: 'auth', auth: 'auth', busy: 'busy', network: 'tcp', timeout: 'timeout', server: 'other', config: 'config' };
  return { class: cls[err.kind], permanent: err.kind === 'permanent' || err.kind === 'config', message: `OAuth2: ${err.message}` };
}

/**
 * Should this failure suspend the mailbox (pure)? `authRefusals` counts the mail server's auth
 * refusals in a row, this one included.
 */
export function decideSuspension(err: unknown, c: ClassifiedError, authRefusals: number, threshold: number, at: string): SuspensionInfo | null {
  if (isTokenEndpointError(err)) {
    if (!err.permanent) return null;
    return { reason: `OAuth2 ${err.message}${err.hint ? ` → ${err.hint}` : ''}`, code: err.providerCode ?? err.oauthError, error: err.oauthError, source: 'token-endpoint', at };
  }
  if (c.class !== 'auth' || authRefusals < threshold) return null;
  const e = err as { serverResponseCode?: unknown; message?: unknown };
  const code = typeof e.serverResponseCode === 'string' ? e.serverResponseCode : (/\[(AUTH|SYS\/PERM|AUTHENTICATIONFAILED)\]/.exec(String(e.message ?? ''))?.[1] ?? null);
  return { reason: `the mail server refused authentication ${authRefusals} times in a row: ${c.message}`, code, error: null, source: 'server', at };
}

export interface SuspensionDeps {
  store: SuspensionStore;
  /** The mail server's auth refusals in a row before suspending (default 5). */
  authFailureThreshold?: number;
  /** How often a suspended mailbox re-reads its credentials to see whether they changed (default 60 s). */
  recheckMs?: number;
  /** Tell the company; resolves true once the notification is queued (or nobody is to be told). */
  onSuspended?: (mailbox: ResolvedMailbox, s: SuspensionInfo) => Promise<boolean>;
  /** The server refused the login: cached OAuth2 tokens of the mailbox must not be reused. */
  onAuthRefused?: (mailbox: string) => void;
  /** The mailbox resumed: forget remembered token refusals. */
  onResumed?: (mailbox: string) => void;
}

/** The per-poller side of suspension (MailboxPoller holds one). */
export class SuspensionGuard {
  private authRefusals = 0;
  private record: SuspensionRecord | null = null;
  private wake: (() => void) | null = null;
  private unwatch: () => void;

  constructor(private deps: SuspensionDeps, private mailbox: ResolvedMailbox, private status: MailboxStatusDetails, private metrics: Metrics, private log: Logger) {
    // The outbound side of the same mailbox may suspend or resume it: follow the shared state.
    this.unwatch = deps.store.watch((id, r) => {
      if (id !== this.mailbox.id) return;
      if (r) this.apply(r);
      else this.release('resumed by the outbound side or the API');
    });
  }

  get suspended(): boolean {
    return this.record !== null;
  }

  /** At start: a mailbox suspended with the same credentials stays suspended; changed ones resume. */
  async restore(): Promise<void> {
    const r = this.deps.store.get(this.mailbox.id);
    if (!r) return this.gauge(0);
    if (!(await this.sameCredentials(r))) {
      this.gauge(0);
      await this.deps.store.delete(this.mailbox.id).catch((e: unknown) => this.log.error({ err: { message: (e as Error).message } }, 'suspension could not be cleared on disk'));
      this.deps.onResumed?.(this.mailbox.id);
      this.log.info({ suspendedAt: r.at, code: r.code }, 'mailbox resumed: its credentials changed');
      return;
    }
    this.apply(r);
    this.log.warn({ reason: r.reason, code: r.code, since: r.at }, 'mailbox stays suspended: its credentials are unchanged');
    if (!r.notified) await this.notify(r);
  }

  onSuccess(): void {
    this.authRefusals = 0;
  }

  /** After a failed poll: true when the mailbox is now suspended. */
  async onFailure(err: unknown, c: ClassifiedError): Promise<boolean> {
    const serverRefusal = c.class === 'auth' && !isTokenEndpointError(err);
    this.authRefusals = serverRefusal ? this.authRefusals + 1 : 0;
    if (serverRefusal) this.deps.onAuthRefused?.(this.mailbox.id);
    const info = decideSuspension(err, c, this.authRefusals, this.deps.authFailureThreshold ?? DEFAULT_AUTH_FAILURE_THRESHOLD, new Date().toISOString());
    if (!info) return false;
    const r: SuspensionRecord = { mailbox: this.mailbox.id, ...info, credentials: await mailboxFingerprint(this.mailbox, this.deps.store.key), notified: false };
    try {
      await this.deps.store.set(r);
    } catch (e) {
      this.log.error({ err: { message: (e as Error).message } }, 'suspension could not be saved: it holds until restart');
    }
    this.apply(r);
    this.log.error({ reason: r.reason, code: r.code, source: r.source }, 'mailbox suspended');
    await this.notify(r);
    return true;
  }

  /** Sleep while suspended; returns when resumed (API, or credentials changed) or on abort. */
  async waitWhileSuspended(signal: AbortSignal): Promise<void> {
    while (this.record && !signal.aborted) {
      const local = new AbortController();
      const onAbort = () => local.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.wake = () => local.abort();
      try {
        await abortableSleep(this.deps.recheckMs ?? 60_000, local.signal);
      } finally {
        this.wake = null;
        signal.removeEventListener('abort', onAbort);
      }
      if (signal.aborted || !this.record) return;
      if (!(await this.sameCredentials(this.record))) await this.resume('its credentials changed');
    }
  }

  /** Lift the suspension; false when the mailbox was not suspended. */
  async resume(why: string): Promise<boolean> {
    if (!this.record) return false;
    this.release(why);
    await this.deps.store.delete(this.mailbox.id).catch((e: unknown) => this.log.error({ err: { message: (e as Error).message } }, 'suspension could not be cleared on disk'));
    return true;
  }

  /** The in-memory side of a resume (also when the other side of the mailbox resumed it). */
  private release(why: string): void {
    const r = this.record;
    if (!r) return;
    this.record = null;
    this.authRefusals = 0;
    Object.assign(this.status, { state: 'idle', suspendedReason: null, suspension: null, consecutiveFailures: 0, nextAttemptAt: null });
    this.gauge(0);
    this.deps.onResumed?.(this.mailbox.id);
    this.log.info({ why, suspendedAt: r.at }, 'mailbox resumed');
    this.wake?.();
  }

  /** The poller stops: its series go (a restarted poller sets them again). */
  dispose(): void {
    this.unwatch();
    this.gauge(null);
  }

  private apply(r: SuspensionRecord): void {
    this.record = r;
    const { reason, code, error, source, at } = r;
    Object.assign(this.status, { state: 'suspended', suspendedReason: reason, suspension: { reason, code, error, source, at }, nextAttemptAt: null });
    this.gauge(1);
  }

  private async notify(r: SuspensionRecord): Promise<void> {
    if (!this.deps.onSuspended) return;
    const { reason, code, error, source, at } = r;
    const ok = await this.deps.onSuspended(this.mailbox, { reason, code, error, source, at }).catch(() => false);
    if (!ok || this.record !== r) return;
    r.notified = true;
    await this.deps.store.set(r).catch(() => undefined);
  }

  private gauge(v: 0 | 1 | null): void {
    const companies = this.status.companies.length ? this.status.companies : [''];
    for (const company of companies) {
      if (v === null) this.metrics.mailboxSuspended.remove({ mailbox: this.mailbox.id, company });
      else this.metrics.mailboxSuspended.set({ mailbox: this.mailbox.id, company }, v);
    }
  }

  private async sameCredentials(r: SuspensionRecord): Promise<boolean> {
    return (await this.deps.store.sameCredentials(r, (k) => mailboxFingerprint(this.mailbox, k))) !== false;
  }
}
