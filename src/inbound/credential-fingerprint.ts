// What a suspension record remembers of the credentials a mailbox was suspended with: a keyed hash
// (HMAC-SHA256 with the install's random key, <store.path>/fingerprint.key, 0600) of everything the
// mailbox logs in with, secret files read now (so a rotated file counts). Without the key a leaked
// suspensions.json says nothing about the password, weak or not. Versions before this wrote a salted
// SHA-256 whose salt sat in the same file (a weak password was crackable from it); those records are
// still compared with their salt, once, and re-recorded keyed (suspension-store.ts).
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ResolvedAuth, ResolvedMailbox } from '../config/snapshot.js';
import type { SecretSource } from '../config/secret.js';

/** The install's key (current records), or the salt of a store written by an older version. */
export type FingerprintKey = { kind: 'hmac'; key: Buffer } | { kind: 'legacy-salt'; salt: string };

const KEYED = 'hmac-sha256:';

/** Was this fingerprint made with the install's key (not an older version's salted hash)? */
export function isKeyedFingerprint(fp: string): boolean {
  return fp.startsWith(KEYED);
}

function digest(k: FingerprintKey, v: string | Buffer): string {
  return k.kind === 'hmac' ? createHmac('sha256', k.key).update(v).digest('hex') : createHash('sha256').update(k.salt).update(v).digest('hex');
}

function outer(k: FingerprintKey, v: string): string {
  return (k.kind === 'hmac' ? KEYED : '') + digest(k, v);
}

/** Fingerprint of a mailbox's credentials, secret files read now (so a rotated file counts). */
export async function credentialFingerprint(auth: ResolvedAuth | null, k: FingerprintKey): Promise<string> {
  const src = async (s: SecretSource | null) => {
    if (!s) return null;
    if (s.kind === 'value') return `value:${digest(k, s.secret.reveal())}`;
    const bytes = await readFile(s.path).catch((e: NodeJS.ErrnoException) => `unreadable:${e.code ?? 'error'}`);
    return `file:${s.path}:${digest(k, bytes)}`;
  };
  const o = auth?.oauth2;
  const doc = auth && {
    user: auth.user,
    password: await src(auth.password),
    oauth2: o && { flow: o.flow, tenantId: o.tenantId, clientId: o.clientId, tokenUrl: o.tokenUrl, scope: o.scope, clientSecret: await src(o.clientSecret), refreshToken: await src(o.refreshToken) },
  };
  return outer(k, JSON.stringify(doc));
}

/**
 * Fingerprint of everything a mailbox logs in with: one suspension covers both sides of a mailbox,
 * so both sides must see the same fingerprint. A mailbox without its own outbound credentials keeps
 * the plain credentialFingerprint of its auth (records written before outbound suspension still match).
 */
export async function mailboxFingerprint(mb: Pick<ResolvedMailbox, 'auth' | 'inbound' | 'outbound'>, k: FingerprintKey): Promise<string> {
  const out = mb.outbound?.auth ?? null;
  if (!out) return credentialFingerprint(mb.auth, k);
  if (!mb.inbound) return credentialFingerprint(out, k);
  return outer(k, `${await credentialFingerprint(mb.auth, k)}:${await credentialFingerprint(out, k)}`);
}
