// Suspension state: the credentials fingerprint changes with any secret (inline or the content of a
// secret file) and never contains one; the store survives a reopen (a restart).
import { openSuspensions } from '../support/suspensions.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { ResolvedAuth } from '../../src/config/snapshot.js';
import { credentialFingerprint, SuspensionStore, type FingerprintKey } from '../../src/inbound/suspension.js';

const key = (b: number): FingerprintKey => ({ kind: 'hmac', key: Buffer.alloc(32, b) });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-susp-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const oauthAuth = (secretFile: string, rt: string): ResolvedAuth => ({
  user: 'u',
  password: null,
  oauth2: { flow: 'refresh_token', tenantId: null, clientId: 'c', clientSecret: { kind: 'file', path: secretFile }, refreshToken: { kind: 'value', secret: new Secret(rt) }, tokenUrl: 'http://127.0.0.1/t', scope: null, clientSecretExpires: null },
});

describe('credentialFingerprint', () => {
  it('changes with an inline secret and with the content of a secret file, never shows them', async () => {
    const f = join(dir, 'secret');
    await writeFile(f, 'file-secret-PLANTED-1\n');
    const a = await credentialFingerprint(oauthAuth(f, 'rt-PLANTED-1'), key(1));
    expect(await credentialFingerprint(oauthAuth(f, 'rt-PLANTED-1'), key(1))).toBe(a);
    expect(await credentialFingerprint(oauthAuth(f, 'rt-PLANTED-2'), key(1))).not.toBe(a);
    await writeFile(f, 'file-secret-PLANTED-2\n');
    const b = await credentialFingerprint(oauthAuth(f, 'rt-PLANTED-1'), key(1));
    expect(b).not.toBe(a);
    expect(await credentialFingerprint(oauthAuth(f, 'rt-PLANTED-1'), key(2))).not.toBe(b);
    expect(a + b).not.toMatch(/PLANTED/);
    expect(await credentialFingerprint(oauthAuth(join(dir, 'missing'), 'x'), key(1))).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  });
});

describe('SuspensionStore', () => {
  it('keeps records and its fingerprint key across a reopen', async () => {
    const s1 = await openSuspensions(dir);
    await s1.set({ mailbox: 'mb', reason: 'r', code: 'AADSTS50173', error: 'invalid_grant', source: 'token-endpoint', at: '2025-01-01T00:00:00Z', credentials: 'f', notified: false });
    const s2 = await openSuspensions(dir);
    expect(s2.key).toEqual(s1.key);
    expect(s2.get('mb')).toMatchObject({ code: 'AADSTS50173', notified: false });
    await s2.delete('mb');
    expect((await openSuspensions(dir)).get('mb')).toBeNull();
    expect(JSON.parse(await readFile(join(dir, 'suspensions.json'), 'utf8'))).toMatchObject({ version: 1, mailboxes: {} });
  });
});
