// The credential fingerprint of a suspension is an HMAC with the install's key (<store>/fingerprint.key,
// 0600), so suspensions.json alone cannot be used to try passwords. A record written by an older
// version (salted SHA-256, salt in the same file) is still compared with its salt: unchanged
// credentials stay suspended (and are re-recorded keyed, the salt leaving the file), changed ones resume.
import { openSuspensions } from '../support/suspensions.js';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { ResolvedAuth, ResolvedMailbox } from '../../src/config/snapshot.js';
import { initialStatus } from '../../src/inbound/status.js';
import { credentialFingerprint, mailboxFingerprint, SuspensionGuard, SuspensionStore, type SuspensionRecord } from '../../src/inbound/suspension.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';

const auth = (pw: string): ResolvedAuth => ({ user: 'desk', password: { kind: 'value', secret: new Secret(pw) }, oauth2: null }) as ResolvedAuth;
const mailbox = (pw: string) => ({ id: 'desk', enabled: true, auth: auth(pw), inbound: { protocol: 'imap' }, outbound: null, owners: [{ company: 'acme', contract: 'main' }] }) as unknown as ResolvedMailbox;
const record = (credentials: string): SuspensionRecord => ({ mailbox: 'desk', reason: 'refused', code: 'AUTHENTICATIONFAILED', error: null, source: 'server', at: '2026-01-01T00:00:00Z', credentials, notified: true });

let dir: string;
const guards: SuspensionGuard[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-fp-'));
});
afterEach(async () => {
  for (const g of guards.splice(0)) g.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function restoredGuard(pw: string): Promise<{ guard: SuspensionGuard; store: SuspensionStore }> {
  const store = await openSuspensions(dir);
  const guard = new SuspensionGuard({ store }, mailbox(pw), initialStatus('desk', ['acme'], 'imap', 'idle'), createMetrics(), createLogger('silent'));
  guards.push(guard);
  await guard.restore();
  return { guard, store };
}

/** What a version before the keyed fingerprint wrote: salt and salted SHA-256 in suspensions.json. */
async function writeOldStyle(pw: string): Promise<string> {
  const salt = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  const old = await credentialFingerprint(auth(pw), { kind: 'legacy-salt', salt });
  expect(old).toMatch(/^[0-9a-f]{64}$/); // the old format, byte for byte
  await writeFile(join(dir, 'suspensions.json'), JSON.stringify({ version: 1, salt, mailboxes: { desk: record(old) } }));
  return salt;
}

describe('keyed credential fingerprint', () => {
  it('is an HMAC with a random per-install key kept 0600 in the store; the file holds nothing to try passwords against', async () => {
    const s1 = await openSuspensions(dir);
    const keyFile = join(dir, 'fingerprint.key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(keyFile, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
    const fp = await mailboxFingerprint(mailbox('hunter2'), s1.key);
    expect(fp).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    await s1.set(record(fp));
    const onDisk = JSON.parse(await readFile(join(dir, 'suspensions.json'), 'utf8')) as Record<string, unknown>;
    expect(onDisk.salt).toBeUndefined();
    // Guessing "hunter2" without the key: neither the old salted construction nor another key gives it.
    expect(await mailboxFingerprint(mailbox('hunter2'), { kind: 'hmac', key: Buffer.alloc(32) })).not.toBe(fp);
    expect(fp).not.toContain(createHash('sha256').update('hunter2').digest('hex'));
    // The same key after a restart: the record still matches.
    const s2 = await openSuspensions(dir);
    expect(s2.key).toEqual(s1.key);
    expect(await s2.sameCredentials(s2.get('desk')!, (k) => mailboxFingerprint(mailbox('hunter2'), k))).toBe(true);
    expect(await s2.sameCredentials(s2.get('desk')!, (k) => mailboxFingerprint(mailbox('hunter3'), k))).toBe(false);
  });

  it('an old-style record with unchanged credentials stays suspended and is re-recorded keyed; the salt leaves the file', async () => {
    await writeOldStyle('pw-weak');
    const { guard, store } = await restoredGuard('pw-weak');
    expect(guard.suspended).toBe(true);
    expect(store.get('desk')?.credentials).toMatch(/^hmac-sha256:/);
    const onDisk = JSON.parse(await readFile(join(dir, 'suspensions.json'), 'utf8')) as { salt?: string; mailboxes: Record<string, SuspensionRecord> };
    expect(onDisk.salt).toBeUndefined();
    expect(onDisk.mailboxes.desk?.credentials).toBe(store.get('desk')?.credentials);
    // and after another restart, compared keyed now: still suspended
    guard.dispose();
    expect((await restoredGuard('pw-weak')).guard.suspended).toBe(true);
  });

  it('an old-style record whose credentials changed resumes (not stuck)', async () => {
    await writeOldStyle('pw-weak');
    const { guard, store } = await restoredGuard('pw-new');
    expect(guard.suspended).toBe(false);
    expect(store.get('desk')).toBeNull();
    expect(JSON.parse(await readFile(join(dir, 'suspensions.json'), 'utf8'))).toEqual({ version: 1, mailboxes: {} });
  });

  it('a damaged key file is a clear error, not a silent new key', async () => {
    await writeFile(join(dir, 'fingerprint.key'), 'not a key\n');
    await expect(openSuspensions(dir)).rejects.toThrow(/fingerprint\.key is not a fingerprint key .*remove it/);
  });
});
