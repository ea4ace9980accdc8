// Suspension on the sending side (issue 8): a permanent token error (invalid_grant, AADSTS50173 ...)
// or the SMTP server refusing the login N times in a row suspends the sending mailbox (or `default`,
// the global default server) exactly as the poller does for reading. The state is the daemon's one
// SuspensionStore, so a mailbox with both sides has one suspension: whichever side suspends it, both
// stop; whichever resumes it, both go on. While suspended, the outbox holds the mailbox's mail
// (queued, not failed) and sends it after the resume: when the credentials change (config or a
// rotated secret file, re-read every `recheckMs`) or through POST /v1/mailboxes/:id/resume.
import { own } from '../config/id-map.js';
import type { Snapshot } from '../config/snapshot.js';
import { credentialFingerprint, decideSuspension, DEFAULT_AUTH_FAILURE_THRESHOLD, mailboxFingerprint, type FingerprintKey, type SuspensionInfo, type SuspensionRecord, type SuspensionStore } from '../inbound/suspension.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { isTokenEndpointError } from '../oauth/token-errors.js';
import { isAuthRefusal, type ClassifiedSend } from './errors.js';
import { companiesOf } from '../config/mailbox-ownership.js';

export interface SenderSuspensionDeps {
  store: SuspensionStore;
  /** SMTP auth refusals in a row before suspending (default 5, as for reading). */
  authFailureThreshold?: number;
  /** How often suspended senders re-read their credentials (default 60 s). */
  recheckMs?: number;
  /** Tell the companies; resolves true once queued (or nobody is to be told). */
  onSuspended?: (label: string, s: SuspensionInfo, sides: { reads: boolean; sends: boolean }) => Promise<boolean>;
  /** The sender resumed: forget remembered token refusals. */
  onResumed?: (label: string) => void;
}

/** What /v1/status shows for a mailbox that only sends (and for `default`). */
export interface SenderStatus {
  mailbox: string;
  companies: string[];
  protocol: 'smtp';
  state: SenderState;
  suspendedReason: string | null;
  suspension: SuspensionInfo | null;
}

export type SenderState = 'idle' | 'suspended' | 'disabled';

/** What a sender's status says (pure): a disabled mailbox sends nothing, whatever else is recorded. */
export function senderState(enabled: boolean, suspended: boolean): SenderState {
  return !enabled ? 'disabled' : suspended ? 'suspended' : 'idle';
}

/** Should this failed send suspend its mailbox (pure)? `refusals` counts SMTP auth refusals in a row, this one included. */
export function decideSenderSuspension(err: unknown, c: ClassifiedSend, refusals: number, threshold: number, at: string): SuspensionInfo | null {
  if (isTokenEndpointError(err)) return err.permanent ? decideSuspension(err, { class: 'auth', permanent: true, message: c.message }, 0, threshold, at) : null;
  if (!isAuthRefusal(c) || refusals < threshold) return null;
  const enhanced = /\b[45]\.\d{1,3}\.\d{1,3}\b/.exec(c.message)?.[0];
  const code = [c.responseCode, enhanced].filter((x) => x !== null && x !== undefined).join(' ') || c.code;
  return { reason: `the SMTP server refused authentication ${refusals} times in a row: ${c.message}`, code, error: null, source: 'server', at };
}

/** Is `label` watched by this side (no poller reads it, so nobody else re-checks its credentials)? */
function sendsOnly(snap: Snapshot, label: string): boolean {
  if (label === 'default') return snap.defaultOutbound !== null;
  const mb = own(snap.mailboxes, label);
  return !!mb?.outbound && !(mb.inbound && mb.enabled);
}

/** Fingerprint of what `label` logs in with: the same as the poller's for a mailbox with both sides. */
export function senderFingerprint(snap: Snapshot, label: string, key: FingerprintKey): Promise<string> | null {
  if (label === 'default') return snap.defaultOutbound ? credentialFingerprint(snap.defaultOutbound.auth, key) : null;
  const mb = own(snap.mailboxes, label);
  return mb ? mailboxFingerprint(mb, key) : null;
}

export class SenderSuspensions {
  /** Released messages go back to the outbox's scheduler. */
  onRelease: ((ids: string[]) => void) | null = null;
  readonly #refusals = new Map<string, { n: number; at: number }>();
  readonly #held = new Map<string, Set<string>>();
  readonly #suspending = new Set<string>();
  readonly #unwatch: () => void;
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly deps: SenderSuspensionDeps & { snapshot: () => Snapshot | null; log: Logger; metrics?: Metrics }) {
    this.#unwatch = deps.store.watch((label, r) => (r ? this.#gauge(label, 1) : this.#release(label)));
    this.#timer = setInterval(() => void this.recheck(), deps.recheckMs ?? 60_000);
    this.#timer.unref();
    for (const r of deps.store.all()) this.#gauge(r.mailbox, 1);
  }

  get(label: string): SuspensionRecord | null {
    return this.deps.store.get(label);
  }

  /** Keep message `id` back while `label` is suspended; the record when held, else null. */
  hold(label: string, id: string): SuspensionRecord | null {
    const r = this.deps.store.get(label);
    if (!r) return null;
    let set = this.#held.get(label);
    if (!set) this.#held.set(label, (set = new Set()));
    set.add(id);
    return r;
  }

  succeeded(label: string): void {
    this.#refusals.delete(label);
  }

  /** A failed send of `label` that began at `startedAt`; resolves true when `label` is now suspended. */
  async failed(label: string, err: unknown, c: ClassifiedSend, startedAt: number): Promise<boolean> {
    if (this.deps.store.get(label) || this.#suspending.has(label)) return true;
    // A company's own server given by field overrides (company:<id>) has no mailbox whose
    // credentials could be re-checked to resume it: its lane backs off, it is not suspended.
    if (label.startsWith('company:')) return false;
    let n = 0;
    if (isAuthRefusal(c) && !isTokenEndpointError(err)) {
      const prev = this.#refusals.get(label);
      // Sends on several pooled connections are refused together: that is one refusal, not five.
      n = prev && startedAt <= prev.at ? prev.n : (prev?.n ?? 0) + 1;
      this.#refusals.set(label, { n, at: Date.now() });
    } else if (c.class !== 'mailbox' && c.responseCode !== null) this.#refusals.delete(label); // the server spoke past AUTH
    const info = decideSenderSuspension(err, c, n, this.deps.authFailureThreshold ?? DEFAULT_AUTH_FAILURE_THRESHOLD, new Date().toISOString());
    const snap = this.deps.snapshot();
    if (!info || !snap) return false;
    this.#suspending.add(label);
    try {
      const r: SuspensionRecord = { mailbox: label, ...info, credentials: (await senderFingerprint(snap, label, this.deps.store.key)) ?? '', notified: false };
      await this.deps.store.set(r).catch((e: unknown) => this.deps.log.error({ mailbox: label, err: { message: (e as Error).message } }, 'suspension could not be saved: it holds until restart'));
      this.deps.log.error({ mailbox: label, reason: r.reason, code: r.code, source: r.source }, 'sending mailbox suspended: its mail is held');
      await this.#notify(snap, r);
    } finally {
      this.#suspending.delete(label);
    }
    return true;
  }

  /** Lift a suspension (API); false when `label` was not suspended. */
  async resume(label: string, why: string): Promise<boolean> {
    if (!this.deps.store.get(label)) return false;
    await this.deps.store.delete(label).catch((e: unknown) => this.deps.log.error({ mailbox: label, err: { message: (e as Error).message } }, 'suspension could not be cleared on disk'));
    this.deps.log.info({ mailbox: label, why }, 'sending mailbox resumed');
    return true;
  }

  /** Re-read the credentials of suspended send-only mailboxes: changed ones resume; unsent notices go out. */
  async recheck(): Promise<void> {
    const snap = this.deps.snapshot();
    if (!snap) return;
    for (const r of this.deps.store.all()) {
      if (!sendsOnly(snap, r.mailbox)) continue; // the poller of the mailbox re-checks it
      const same = await this.deps.store.sameCredentials(r, (k) => senderFingerprint(snap, r.mailbox, k));
      if (same === false) await this.resume(r.mailbox, 'its credentials changed');
      else if (!r.notified) await this.#notify(snap, r);
    }
  }

  statuses(snap: Snapshot): SenderStatus[] {
    const labels = [...Object.keys(snap.mailboxes), 'default'].filter((l) => sendsOnly(snap, l));
    return labels.map((mailbox) => {
      const r = this.deps.store.get(mailbox);
      const suspension = r && { reason: r.reason, code: r.code, error: r.error, source: r.source, at: r.at };
      return { mailbox, companies: companiesOf(snap, mailbox), protocol: 'smtp', state: senderState(mailbox === 'default' || snap.mailboxes[mailbox]?.enabled !== false, !!r), suspendedReason: r?.reason ?? null, suspension };
    });
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#unwatch();
  }

  async #notify(snap: Snapshot, r: SuspensionRecord): Promise<void> {
    if (!this.deps.onSuspended) return;
    const mb = snap.mailboxes[r.mailbox];
    const { reason, code, error, source, at } = r;
    const ok = await this.deps.onSuspended(r.mailbox, { reason, code, error, source, at }, { reads: !!(mb?.inbound && mb.enabled), sends: true }).catch(() => false);
    if (!ok || this.deps.store.get(r.mailbox) !== r) return;
    r.notified = true;
    await this.deps.store.set(r).catch(() => undefined);
  }

  #release(label: string): void {
    this.#refusals.delete(label);
    this.#gauge(label, 0);
    this.deps.onResumed?.(label);
    const ids = [...(this.#held.get(label) ?? [])];
    this.#held.delete(label);
    if (ids.length) this.onRelease?.(ids);
  }

  #gauge(label: string, v: 0 | 1): void {
    const snap = this.deps.snapshot();
    if (!this.deps.metrics || !snap || !(label === 'default' || snap.mailboxes[label]?.outbound)) return;
    const companies = label === 'default' ? [''] : companiesOf(snap, label);
    for (const company of companies.length ? companies : ['']) this.deps.metrics.mailboxSuspended.set({ mailbox: label, company }, v);
  }
}
