// One suspension state for both sides of a mailbox: the poller's SuspensionGuard and the outbox's
// SenderSuspensions share the daemon's SuspensionStore, so whichever side suspends, both stop (the
// poller's status says suspended, the outbox holds the mail), and whichever resumes, both go on
// (held mail is released). The fingerprint both sides compare credentials with is the same.
import { openSuspensions } from '../support/suspensions.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { ResolvedAuth, ResolvedMailbox, Snapshot } from '../../src/config/snapshot.js';
import { initialStatus } from '../../src/inbound/status.js';
import { classifyPollError, mailboxFingerprint, SuspensionGuard, SuspensionStore, type MailboxStatusDetails } from '../../src/inbound/suspension.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { classifySendError } from '../../src/outbound/errors.js';
import { SenderSuspensions, senderFingerprint } from '../../src/outbound/sender-suspension.js';
import { tokenErrorFromResponse } from '../../src/oauth/token-errors.js';

const auth = (pw: string): ResolvedAuth => ({ user: 'desk', password: { kind: 'value', secret: new Secret(pw) }, oauth2: null }) as ResolvedAuth;
const mailbox = (pw = 'pw-1', outPw = 'smtp-pw-1') =>
  ({ id: 'both', enabled: true, auth: auth(pw), inbound: { protocol: 'imap' }, outbound: { auth: auth(outPw) }, owners: [{ company: 'acme', contract: 'main' }] }) as unknown as ResolvedMailbox;

let dir: string;
let store: SuspensionStore;
let mb: ResolvedMailbox;
let guard: SuspensionGuard;
let status: MailboxStatusDetails;
let senders: SenderSuspensions;
const log = createLogger('silent');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-susp-'));
  store = await openSuspensions(dir);
  mb = mailbox();
  const snap = { mailboxes: { both: mb }, companies: {}, defaultOutbound: null } as unknown as Snapshot;
  const metrics = createMetrics();
  status = initialStatus('both', ['acme'], 'imap', 'idle');
  guard = new SuspensionGuard({ store, authFailureThreshold: 2 }, mb, status, metrics, log);
  senders = new SenderSuspensions({ store, snapshot: () => snap, log, metrics, authFailureThreshold: 2, recheckMs: 60_000 });
});

afterEach(async () => {
  guard.dispose();
  senders.stop();
  await rm(dir, { recursive: true, force: true });
});

const revoked = () => tokenErrorFromResponse(400, { error: 'invalid_grant', error_codes: [50173] });

describe('one suspension for both sides of a mailbox', () => {
  it('suspended by the sending side: the poller is suspended too; resumed by the poller: the held mail is released', async () => {
    const err = revoked();
    expect(await senders.failed('both', err, classifySendError(err), Date.now())).toBe(true);
    expect(guard.suspended).toBe(true);
    expect(status).toMatchObject({ state: 'suspended', suspension: { code: 'AADSTS50173', source: 'token-endpoint' } });
    expect(senders.hold('both', 'msg-1')).not.toBeNull();
    const released: string[][] = [];
    senders.onRelease = (ids) => released.push(ids);
    expect(await guard.resume('through the API')).toBe(true);
    expect(store.get('both')).toBeNull();
    expect(released).toEqual([['msg-1']]);
    expect(senders.hold('both', 'msg-2')).toBeNull();
  });

  it('suspended by the poller: the outbox holds; resumed by the sending side: the poller goes on', async () => {
    const refused = Object.assign(new Error('Authentication failed'), { authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED' });
    const c = classifyPollError(refused);
    expect(await guard.onFailure(refused, c)).toBe(false);
    expect(await guard.onFailure(refused, c)).toBe(true);
    expect(senders.hold('both', 'msg-1')).toMatchObject({ source: 'server' });
    expect(await senders.resume('both', 'through the API')).toBe(true);
    expect(guard.suspended).toBe(false);
    expect(status.state).toBe('idle');
  });

  it('both sides fingerprint the mailbox alike, and a changed outbound secret changes it', async () => {
    const snap = { mailboxes: { both: mb }, defaultOutbound: null } as unknown as Snapshot;
    expect(await senderFingerprint(snap, 'both', store.key)).toBe(await mailboxFingerprint(mb, store.key));
    expect(await mailboxFingerprint(mailbox('pw-1', 'smtp-pw-2'), store.key)).not.toBe(await mailboxFingerprint(mb, store.key));
  });
});
